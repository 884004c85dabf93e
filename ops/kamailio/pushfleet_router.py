"""PushFleet reference router: Kamailio KEMI routing (app_python3) that publishes the contract's
events (docs/contract.md §2) to Kafka with confluent-kafka.

Kamailio is the registrar and a parallel-forking proxy; this script only adds publishing to an
ordinary routing logic:

- REGISTER: after `save()`, every binding of the AOR that this REGISTER (its Call-ID) created or
  refreshed and that carries push parameters → `registration.updated` on the registrations topic,
  key `<aor>|<instance or contact>`; every push binding it removed → a tombstone (null value).
- INVITE / MESSAGE / REFER: the branch route runs once per branch as tm creates it; a branch whose
  target (the registered contact) carries push parameters → `branch.unanswered`.
- a device woken by its push registers again, usually with a new contact (new port, new
  connection): the `tsilo` module forks the pending request to it (`ts_store()` when the request is
  forked to push-capable contacts, `ts_append()` after the device's REGISTER is saved). That late
  branch keeps the branch id of the device (its `+sip.instance`, else its push parameters) and gets
  no second `branch.unanswered`: its replies are the device's `branch.response`s.
- replies ≥ 180 from such a branch → `branch.response`.
- end of the transaction of a call that had push branches → `call.ended`: a 2xx (`answered` from a
  push branch, `answered-elsewhere` from another one), a 6xx (`declined-elsewhere`), the caller's
  CANCEL (`cancelled`), the fork timeout or every branch failing (`timeout`).

Publishing never blocks SIP processing: `produce()` only appends to librdkafka's bounded local
queue (`queue.buffering.max.messages`); a full queue, an unencodable value or a message the broker
did not acknowledge within `message.timeout.ms` is logged (rate-limited) and counted in the
`pushfleet_publish_failed` counter, and routing goes on. Delivery reports are served by `poll(0)`
at every route this process runs, so failures are counted as the process handles traffic.

Settings come from the environment of the Kamailio process:

| variable | default | meaning |
|---|---|---|
| PUSHFLEET_BOOTSTRAP | 127.0.0.1:9092 | Kafka bootstrap servers |
| PUSHFLEET_EVENTS_TOPIC | pushfleet.events | topic of branch.* and call.ended |
| PUSHFLEET_REGISTRATIONS_TOPIC | pushfleet.registrations | topic of registration.updated |
| PUSHFLEET_FORK_TIMEOUT | 30 | seconds a branch may stay unanswered (tm fr_timer and fr_inv_timer), sent as `forkTimeout` |
| PUSHFLEET_MESSAGE_TIMEOUT_MS | 10000 | librdkafka `message.timeout.ms`: a push decided later than that is stale |
| PUSHFLEET_QUEUE_MAX | 10000 | librdkafka `queue.buffering.max.messages`: the bounded local queue |
| PUSHFLEET_KAFKA_CONFIG | (none) | a `key=value` file of extra librdkafka properties (TLS, SASL, tuning) |
"""

import datetime
import json
import os
import time
import uuid

import KSR

try:
    from confluent_kafka import Producer
except ImportError:  # Kamailio still routes; every publish is counted as failed.
    Producer = None

HTABLE = "pushfleet"
BINDINGS = "pushfleet_bindings"
# The usrloc table the registrar saves to and tsilo looks new contacts up in.
LOCATION = "location"
# Push parameters that make a contact a push target (RFC 8599, and Flexisip's legacy ones).
RFC8599 = ("pn-provider", "pn-prid")
LEGACY = ("pn-type", "pn-tok")
# Headers the worker's filter and needsPush rules read (docs/contract.md §2.1).
COPIED_HEADERS = ("User-Agent", "Content-Type", "Priority", "Replaces", "X-fs-message-type")
# Records are at most 64 KiB (docs/contract.md §2): SIP values are capped well below that.
MAX_VALUE_CHARS = 1024
MAX_BODY_CHARS = 16384
PUSH_METHODS = ("INVITE", "MESSAGE", "REFER")


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        KSR.err("pushfleet: %s is not an integer, using %d\n" % (name, default))
        return default


def now_rfc3339(at=None):
    moment = datetime.datetime.fromtimestamp(at if at is not None else time.time(), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def pv(name):
    """A pseudo-variable as text, or None when unset or not decodable (hostile bytes)."""
    try:
        value = KSR.pv.get(name)
    except Exception:
        return None
    if value is None:
        return None
    return str(value)


def capped(value, limit=MAX_VALUE_CHARS):
    return value if value is None or len(value) <= limit else value[:limit]


def uri_params(uri):
    """The parameters of a SIP URI (`sip:u@h;a=b;c?hdr`), names lower-cased."""
    params = {}
    if uri is None:
        return params
    body = uri.split("?", 1)[0]
    for item in body.split(";")[1:]:
        name, _, value = item.partition("=")
        params[name.strip().lower()] = value.strip()
    return params


def has_push_params(uri):
    params = uri_params(uri)
    return all(params.get(p) for p in RFC8599) or all(params.get(p) for p in LEGACY)


def device_identity(uri, instance):
    """What names one device across its contacts: its `+sip.instance`, else the push parameters
    of the contact (provider, param, token; legacy ones for a legacy contact). None when neither."""
    if instance:
        return ["instance", instance]
    params = uri_params(uri)
    if all(params.get(p) for p in RFC8599):
        return ["pn", params["pn-provider"], params.get("pn-param", ""), params["pn-prid"]]
    if all(params.get(p) for p in LEGACY):
        return ["pn", params["pn-type"], params.get("app-id", ""), params["pn-tok"]]
    return None


def unquote(value):
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return value or None


def first_time(key):
    """True for the first caller with `key` across all Kamailio processes (shared htable)."""
    KSR.htable.sht_lock(HTABLE, key)
    try:
        if KSR.htable.sht_get(HTABLE, key) is not None:
            return False
        KSR.htable.sht_seti(HTABLE, key, 1)
        return True
    finally:
        KSR.htable.sht_unlock(HTABLE, key)


class Publisher:
    """One Kafka producer per Kamailio process, created lazily in that process (after fork: a
    librdkafka handle and its threads do not survive fork, and tm's timer process runs failure
    routes too, so every process that publishes makes its own)."""

    def __init__(self):
        self.pid = None
        self.producer = None
        self.failures = 0
        self.last_log = {}  # kind of line → when one was last logged
        # Notes taken by the delivery and error callbacks, counted after poll() returns.
        self.delivered = 0
        self.undelivered = []
        self.client_errors = []
        self.config = {
            "bootstrap.servers": os.environ.get("PUSHFLEET_BOOTSTRAP", "127.0.0.1:9092"),
            # The contract's partitioner: what PushFleet's own producer and Java clients use, so a
            # call's events land on one partition whoever writes them.
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            # Each Kamailio process has its own producer: replies of one call handled by two
            # processes are ordered on the partition only as far as their produce() calls are
            # apart, so batching is kept short.
            "linger.ms": 1,
            "queue.buffering.max.messages": env_int("PUSHFLEET_QUEUE_MAX", 10000),
            "message.timeout.ms": env_int("PUSHFLEET_MESSAGE_TIMEOUT_MS", 10000),
            "error_cb": self.on_error,
        }
        path = os.environ.get("PUSHFLEET_KAFKA_CONFIG")
        if path:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        key, _, value = line.partition("=")
                        self.config[key.strip()] = value.strip()

    def handle(self):
        pid = os.getpid()
        if self.pid != pid:
            self.pid = pid
            self.producer = None
            if Producer is not None:
                config = dict(self.config)
                config["client.id"] = "kamailio-%d" % pid
                self.producer = Producer(config)
        return self.producer

    def poll(self):
        """Serves delivery reports and client errors, then counts them; never blocks. The
        callbacks only take notes: they run inside confluent-kafka's poll(), where calling back
        into Kamailio (KSR) is not safe."""
        producer = self.producer if self.pid == os.getpid() else None
        if producer is None:
            return
        try:
            producer.poll(0)
        except Exception as error:
            self.failed("poll: %s: %s" % (type(error).__name__, error))
        delivered, self.delivered = self.delivered, 0
        undelivered, self.undelivered = self.undelivered, []
        errors, self.client_errors = self.client_errors, []
        if delivered:
            KSR.counters.add("pushfleet_published", delivered)
        for why in undelivered:
            self.failed(why)
        for error in errors:
            self.log_rate_limited("client error", "pushfleet: Kafka client error: %s\n" % error)

    def publish(self, topic, key, record):
        """Hands one record to librdkafka; a tombstone when `record` is None."""
        try:
            value = None if record is None else json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            producer = self.handle()
            if producer is None:
                self.failed("confluent_kafka is not installed")
                return
            producer.produce(topic, key=key.encode("utf-8"), value=value, on_delivery=self.on_delivery)
            KSR.counters.inc("pushfleet_queued")
        except BufferError:
            self.failed("local queue full (%s messages)" % self.config["queue.buffering.max.messages"])
        except Exception as error:
            self.failed("%s: %s" % (type(error).__name__, error))
        self.poll()

    def on_delivery(self, error, message):
        if error is None:
            self.delivered += 1
        else:
            self.undelivered.append("not delivered to %s: %s" % (message.topic(), error))

    def on_error(self, error):
        self.client_errors.append(str(error))

    def failed(self, why):
        self.failures += 1
        KSR.counters.inc("pushfleet_publish_failed")
        self.log_rate_limited("failure", "pushfleet: publish failed (%d in this process so far): %s\n" % (self.failures, why))

    def log_rate_limited(self, kind, line):
        # A broker outage fails every event: one line of each kind per second per process says it
        # without flooding the log; the counter has the exact number.
        moment = time.monotonic()
        if moment - self.last_log.get(kind, -1.0e9) >= 1.0:
            self.last_log[kind] = moment
            KSR.err(line)


def tm_route(name):
    """Wraps a tm route (branch, reply, failure): serves pending delivery reports first, and an
    error in the publishing logic is counted and logged, never raised into Kamailio's routing."""
    def wrap(method):
        def route(self, msg):
            self.publisher.poll()
            try:
                method(self, msg)
            except Exception as error:
                self.publisher.failed("%s: %s: %s" % (name, type(error).__name__, error))
            return 1
        return route
    return wrap


def mod_init():
    return kamailio()


class kamailio:
    def __init__(self):
        self.publisher = Publisher()
        self.events_topic = os.environ.get("PUSHFLEET_EVENTS_TOPIC", "pushfleet.events")
        self.registrations_topic = os.environ.get("PUSHFLEET_REGISTRATIONS_TOPIC", "pushfleet.registrations")
        self.fork_timeout = env_int("PUSHFLEET_FORK_TIMEOUT", 30)
        # Contact address → `+sip.instance` of the request being forked by this process; the
        # branch route runs synchronously inside its t_relay().
        self.instances = {}

    def child_init(self, rank):
        if rank > 0:  # SIP worker: connect and learn the topics now, before any SIP traffic.
            try:
                producer = self.publisher.handle()
                # A producer learns a topic's partitions on its first message to it, which delays
                # that message by a metadata round trip: long enough for a later event of the same
                # call, published by another process, to overtake it. Ask at start-up instead
                # (bounded wait; a broker that is down only means the first events wait).
                for topic in (self.events_topic, self.registrations_topic):
                    producer.list_topics(topic, timeout=2.0)
            except Exception as error:
                KSR.err("pushfleet: Kafka producer not ready at start-up: %s\n" % error)
        return 0

    # --- routing ---------------------------------------------------------------------------

    def ksr_request_route(self, msg):
        self.publisher.poll()
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return 1
        if KSR.sanity.sanity_check(17895, 7) < 0:
            return 1
        method = pv("$rm")
        if method == "CANCEL":
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return 1
        if KSR.siputils.has_totag() > 0:
            self.within_dialog(method)
            return 1
        if KSR.tm.t_check_trans() == 0:
            return 1  # a retransmission, absorbed by tm
        if method == "REGISTER":
            self.register()
            return 1
        if method == "OPTIONS" and KSR.corex.has_ruri_user() < 0:
            KSR.sl.sl_send_reply(200, "OK")
            return 1
        if method == "INVITE":
            KSR.rr.record_route()
        self.forward_to_location(method)
        return 1

    # app_python3 looks these two up by name and leaves the AttributeError pending when they are
    # missing, which then breaks the next KSR call: define them, doing nothing.
    def ksr_reply_route(self, msg):
        return 1

    def ksr_onsend_route(self, msg):
        return 1

    def within_dialog(self, method):
        if KSR.rr.loose_route() > 0:
            KSR.tm.t_relay()
        elif method == "ACK":
            if KSR.tm.t_check_trans() > 0:  # the ACK of a negative reply: tm absorbs it
                KSR.tm.t_relay()
        else:
            KSR.sl.sl_send_reply(404, "Not here")

    def forward_to_location(self, method):
        aor = pv("$ru")
        user, domain = pv("$rU") or "", pv("$rd") or ""  # lookup() rewrites them
        try:
            bindings = self.bindings(aor)
        except Exception as error:  # the branches then name the contact instead of the instance
            bindings = []
            self.publisher.failed("instances of %s: %s: %s" % (aor, type(error).__name__, error))
        self.instances = {b["addr"]: b["instance"] for b in bindings}
        if KSR.registrar.lookup(LOCATION) < 0:
            KSR.sl.sl_send_reply(404, "Not Found")
            return
        stored = False
        if method in PUSH_METHODS:
            KSR.tm.t_on_branch("ksr_branch_route_pushfleet")
            KSR.tm.t_on_reply("ksr_onreply_route_pushfleet")
            KSR.tm.t_on_failure("ksr_failure_route_pushfleet")
            timeout_ms = self.fork_timeout * 1000
            KSR.tm.t_set_fr(timeout_ms, timeout_ms)
            if any(has_push_params(b["addr"]) for b in bindings):
                stored = self.store_transaction(user, domain)
        if KSR.tm.t_relay() < 0:
            if stored:
                KSR.tm.t_reply(500, "Server Error")
            else:
                KSR.sl.sl_reply_error()
        self.instances = {}

    def store_transaction(self, user, domain):
        """tsilo: remembers this transaction under the AOR (the Request-URI's, before `lookup()`
        rewrites it), so that a device woken by its push, registering again with a new contact,
        gets a branch of it (`ts_append` in the REGISTER handler, with the same AOR). tsilo needs
        the transaction: created here, before `t_relay()`. `user` and `domain` are the
        Request-URI's as it came (after `lookup()`, `$rU` and `$rd` are the first contact's)."""
        aor = "sip:%s@%s" % (user, domain)
        try:
            if KSR.tm.t_newtran() < 0:
                return False
            if KSR.tsilo.ts_store_uri(aor) < 0:
                self.log_tsilo("ts_store of %s failed" % aor)
            else:
                # tsilo logs an error for every ts_append that finds nothing stored: the REGISTER
                # handler calls it only while a request to the user may be waiting.
                KSR.htable.sht_setxi(HTABLE, "t|" + user, 1, self.fork_timeout + 5)
            return True
        except Exception as error:
            self.publisher.failed("ts_store of %s: %s: %s" % (aor, type(error).__name__, error))
            return False

    def log_tsilo(self, line):
        self.publisher.log_rate_limited("tsilo", "pushfleet: %s\n" % line)

    def bindings(self, aor):
        """The bindings of `aor` in usrloc, as dicts of the `$ulc` attributes the script uses."""
        if aor is None or KSR.registrar.reg_fetch_contacts("location", aor, "pf") < 0:
            return []
        found = []
        try:
            count = int(pv("$ulc(pf=>count)") or 0)
            for i in range(count):
                found.append({
                    "addr": pv("$(ulc(pf=>addr)[%d])" % i),
                    "instance": unquote(pv("$(ulc(pf=>instance)[%d])" % i)),
                    "callid": pv("$(ulc(pf=>callid)[%d])" % i),
                    "expires": int(pv("$(ulc(pf=>expires)[%d])" % i) or 0),
                    "ruid": pv("$(ulc(pf=>ruid)[%d])" % i),
                })
        finally:
            KSR.registrar.reg_free_contacts("pf")
        return [b for b in found if b["addr"]]

    # --- REGISTER → registration.updated / tombstone ------------------------------------------

    def register(self):
        user, domain = pv("$tU"), pv("$td")
        if not user or not domain:
            KSR.sl.sl_send_reply(400, "Bad To")
            return
        aor = "sip:%s@%s" % (user, domain)
        try:
            before = {self.registration_key(aor, b): b for b in self.bindings(aor) if has_push_params(b["addr"])}
        except Exception as error:  # no tombstones for this REGISTER, but it is still saved
            before = {}
            self.publisher.failed("bindings of %s: %s: %s" % (aor, type(error).__name__, error))
        if KSR.registrar.save(LOCATION, 0) < 0:
            KSR.sl.sl_reply_error()
            return
        callid = pv("$ci")
        bindings = []
        try:
            seen = time.time()
            bindings = self.bindings(aor)
            after = {self.registration_key(aor, b): b for b in bindings if has_push_params(b["addr"])}
            for key, binding in after.items():
                if binding["callid"] != callid:
                    continue
                record = self.header("registration.updated", seen)
                record.update({
                    "aor": aor, "contact": binding["addr"], "callId": callid,
                    "expires": max(0, int(round(binding["expires"] - seen))), "updatedAt": record["time"],
                })
                if binding["instance"]:
                    record["instanceId"] = binding["instance"]
                self.publisher.publish(self.registrations_topic, key, record)
                if binding["ruid"]:
                    KSR.htable.sht_sets(BINDINGS, binding["ruid"], key)
            for key in before.keys() - after.keys():
                self.publisher.publish(self.registrations_topic, key, None)
                if before[key]["ruid"]:
                    KSR.htable.sht_rm(BINDINGS, before[key]["ruid"])
        except Exception as error:
            self.publisher.failed("REGISTER of %s: %s: %s" % (aor, type(error).__name__, error))
        if any(b["callid"] == callid for b in bindings) and KSR.htable.sht_get(HTABLE, "t|" + user) is not None:
            self.append_branches(aor, bindings)

    def append_branches(self, aor, bindings):
        """tsilo: a binding this REGISTER created or moved (a woken device's new contact) becomes a
        new branch of every request still waiting for `aor` (stored by `ts_store`). The branch
        route runs for each, in this process, inside `ts_append`: `instances` lets it name the
        device. tm skips contacts a request already has a branch to (same ruid and URI)."""
        self.instances = {b["addr"]: b["instance"] for b in bindings}
        try:
            KSR.tsilo.ts_append(LOCATION, aor)
        except Exception as error:
            self.publisher.failed("ts_append of %s: %s: %s" % (aor, type(error).__name__, error))
        finally:
            self.instances = {}

    def ksr_registrar_event(self, *arguments):
        """usrloc:contact-expired (usrloc's timer process): a push binding nobody refreshed gets
        its tombstone, as an un-REGISTER would."""
        self.publisher.poll()
        try:
            ruid = pv("$ulc(exp=>ruid)")
            key = KSR.htable.sht_get(BINDINGS, ruid) if ruid else None
            if key:
                self.publisher.publish(self.registrations_topic, key, None)
                KSR.htable.sht_rm(BINDINGS, ruid)
        except Exception as error:
            self.publisher.failed("expired contact: %s: %s" % (type(error).__name__, error))
        return 1

    @staticmethod
    def registration_key(aor, binding):
        return "%s|%s" % (aor, binding["instance"] or binding["addr"])

    # --- branches, replies, end of call -------------------------------------------------------

    @tm_route("branch route")
    def ksr_branch_route_pushfleet(self, msg):
        target = pv("$ru")
        callid = pv("$ci") or ""
        instance = self.instances.get(target)
        identity = device_identity(target, instance)
        if identity is None:
            return
        index_key = "b|%s|%s" % (pv("$T_branch_idx"), callid)
        # One branch id per device and call. A device that registers again during the call (tsilo
        # forks the request to its new contact) already has its branch, and its push: the new
        # branch's replies are that branch's responses, and no second branch.unanswered is sent.
        device_key = "d|" + json.dumps([callid] + identity)
        KSR.htable.sht_lock(HTABLE, device_key)
        try:
            known = KSR.htable.sht_get(HTABLE, device_key)
            if known is None and has_push_params(target):
                KSR.htable.sht_sets(HTABLE, device_key, instance or target)
        finally:
            KSR.htable.sht_unlock(HTABLE, device_key)
        if known is not None:
            KSR.htable.sht_sets(HTABLE, index_key, known)
            KSR.counters.inc("pushfleet_repeat_branches")
            return
        if not has_push_params(target):
            return
        branch = instance or target
        KSR.htable.sht_sets(HTABLE, index_key, branch)
        KSR.htable.sht_seti(HTABLE, "p|" + callid, 1)
        record = self.header("branch.unanswered")
        record.update({
            "callId": callid, "branch": branch, "method": pv("$rm"), "requestUri": target,
            "from": self.address(pv("$fu"), pv("$fn"), pv("$ft")),
            "to": self.address(pv("$tu"), None, pv("$tt")),
            "forkTimeout": self.fork_timeout,
        })
        headers = {}
        for name in COPIED_HEADERS:
            value = pv("$hdr(%s)" % name)
            if value is not None:
                headers[name] = capped(value)
        if headers:
            record["headers"] = headers
        if instance:
            record["instanceId"] = instance
        if pv("$rm") == "MESSAGE":
            body = pv("$rb")
            if body:
                record["body"] = capped(body, MAX_BODY_CHARS)
        self.publisher.publish(self.events_topic, callid, record)

    @tm_route("reply route")
    def ksr_onreply_route_pushfleet(self, msg):
        status = int(pv("$rs") or 0)
        if status < 180:
            return
        callid = pv("$ci") or ""
        branch = KSR.htable.sht_get(HTABLE, "b|%s|%s" % (pv("$T_branch_idx"), callid))
        if branch:
            # One branch.response per branch and status (provisional replies are retransmitted).
            # JSON keeps the key unambiguous: branch and Call-ID come from SIP and may hold "|".
            if first_time("r|" + json.dumps([status, branch, callid])):
                record = self.header("branch.response")
                record.update({"callId": callid, "branch": branch, "status": status})
                self.publisher.publish(self.events_topic, callid, record)
        if 200 <= status < 300 and pv("$rm") == "INVITE":
            self.call_ended(callid, "answered" if branch else "answered-elsewhere")

    @tm_route("failure route")
    def ksr_failure_route_pushfleet(self, msg):
        code = int(pv("$T_reply_code") or 0)
        if KSR.tm.t_is_canceled() > 0:
            reason = "cancelled"
        elif 600 <= code < 700:
            reason = "declined-elsewhere"
        else:
            # The fork timeout, or every branch failed: nobody will answer this call.
            reason = "timeout"
        self.call_ended(pv("$ci") or "", reason)

    def call_ended(self, callid, reason):
        """Publishes `call.ended` once per call, and only for calls that had a push branch."""
        if KSR.htable.sht_get(HTABLE, "p|" + callid) is None:
            return
        if not first_time("e|" + callid):
            return
        record = self.header("call.ended")
        record.update({"callId": callid, "reason": reason})
        self.publisher.publish(self.events_topic, callid, record)

    # --- records ---------------------------------------------------------------------------------

    @staticmethod
    def header(kind, at=None):
        return {"v": 1, "type": kind, "id": str(uuid.uuid4()), "time": now_rfc3339(at)}

    @staticmethod
    def address(uri, display_name, tag):
        address = {"uri": capped(uri or "")}
        display_name = unquote(display_name)
        if display_name:
            address["displayName"] = capped(display_name)
        if tag:
            address["tag"] = capped(tag)
        return address
