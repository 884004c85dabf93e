#!/usr/bin/env python3
"""Drops the registrar binding that a PushFleet `invalid-token` outcome names.

The reference router's answer to docs/router-integration.md, "Consuming outcomes": reads
`pushfleet.outcomes`, and for an `invalid-token` outcome removes exactly that device's contact
from Kamailio's `location` table (over the ctl socket, `kamcmd ul.rm_contact`) and writes the
binding's tombstone to `pushfleet.registrations`, as an un-REGISTER through the router would.

When to believe the provider:
- at once for a token the provider says is gone: APNs 410 `Unregistered`, FCM 404 `UNREGISTERED`;
- otherwise (APNs 400 `BadDeviceToken`/`DeviceTokenNotForTopic`, FCM 400 `INVALID_ARGUMENT`)
  only on a second such answer for the same device, from another push at least
  `--confirm-after` seconds after the first: a wrong certificate, a `.p8` key of another team,
  a topic that does not match or the wrong APNs environment produce the same answers for *every*
  device, and pruning on the first would wipe the registrar after one configuration mistake.

Only the binding whose `+sip.instance` (or, without one, whose contact's push token) matches is
removed: a device that registered again with a new token is a different `pn-prid`, and stays.

Run one per registrar (its consumer group commits what it handled):
  python3 prune_bindings.py --bootstrap kafka1:9092 --ctl unix:/run/kamailio/kamailio_ctl
"""
import argparse
import json
import re
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer

DEFINITE = re.compile(r"^(Unregistered|UNREGISTERED)\b")


def log(text):
    print("prune_bindings: " + text, file=sys.stderr, flush=True)


def definite(outcome):
    """The provider says the token is gone (not merely unreadable for this credential)."""
    return outcome.get("status") in (404, 410) or bool(DEFINITE.match(outcome.get("reason") or ""))


class Registrar:
    """Kamailio's usrloc over the ctl socket."""

    def __init__(self, ctl, table, use_domain, kamcmd="/usr/sbin/kamcmd"):
        self.ctl, self.table, self.use_domain, self.kamcmd = ctl, table, use_domain, kamcmd

    def usrloc_aor(self, aor):
        """The AOR as usrloc keys it: `user` (use_domain 0) or `user@domain`."""
        match = re.match(r"^(?:sips?:)?([^@;>]+)@([^;>:]+)", aor)
        if not match:
            return aor
        return "%s@%s" % match.groups() if self.use_domain else match.group(1)

    def contacts(self, aor):
        """[(address, instance or None)] of the AOR; [] when it has none."""
        run = subprocess.run([self.kamcmd, "-s", self.ctl, "ul.lookup", self.table, aor],
                             capture_output=True, text=True, timeout=10)
        if run.returncode != 0 or "AOR not found" in run.stdout + run.stderr:
            return []
        found, address = [], None
        for line in run.stdout.splitlines():
            line = line.strip()
            if line.startswith("Address: "):
                address = line[len("Address: "):]
            elif line.startswith("Instance: ") and address is not None:
                instance = line[len("Instance: "):]
                found.append((address, None if instance == "[not set]" else instance))
                address = None
        return found

    def remove(self, aor, address):
        run = subprocess.run([self.kamcmd, "-s", self.ctl, "ul.rm_contact", self.table, aor, address],
                             capture_output=True, text=True, timeout=10)
        if run.returncode != 0 or run.stdout.startswith("error"):
            raise RuntimeError("ul.rm_contact %s %s: %s%s" % (aor, address, run.stdout, run.stderr))


def names_device(address, instance, device):
    """The contact is the device the outcome names: same instance when it has one, and the
    contact still carries the token that was refused (a new token is a new registration)."""
    if device.get("instanceId") and instance != device["instanceId"]:
        return False
    return re.search(r"[;?&]pn-prid=%s(?:[;&:>]|$)" % re.escape(device["prid"]), address) is not None \
        or re.search(r"[;?&]pn-tok=%s(?:[;&>]|$)" % re.escape(device["prid"]), address) is not None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--ctl", required=True, help="Kamailio ctl socket, e.g. unix:/run/kamailio/kamailio_ctl")
    parser.add_argument("--outcomes-topic", default="pushfleet.outcomes")
    parser.add_argument("--registrations-topic", default="pushfleet.registrations")
    parser.add_argument("--group", default="kamailio-prune-bindings")
    parser.add_argument("--table", default="location")
    parser.add_argument("--use-domain", action="store_true", help="usrloc's use_domain is 1")
    parser.add_argument("--confirm-after", type=float, default=3600,
                        help="seconds between two non-definite answers before pruning (default 3600)")
    parser.add_argument("--from-beginning", action="store_true", help="a new group starts at the oldest outcomes")
    args = parser.parse_args()

    registrar = Registrar(args.ctl, args.table, args.use_domain)
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "enable.auto.commit": True,
                         "auto.offset.reset": "earliest" if args.from_beginning else "latest"})
    producer = Producer({"bootstrap.servers": args.bootstrap, "partitioner": "murmur2_random"})
    consumer.subscribe([args.outcomes_topic],
                       on_assign=lambda c, parts: log("following %s" % args.outcomes_topic))
    # First non-definite answer per device: (time, eventId).
    suspected = {}
    while True:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            log("kafka: %s" % message.error())
            continue
        try:
            outcome = json.loads(message.value())
        except (TypeError, ValueError):
            continue
        device = outcome.get("device") if isinstance(outcome, dict) else None
        if not isinstance(outcome, dict) or outcome.get("result") != "invalid-token":
            continue
        if not isinstance(device, dict) or not all(isinstance(device.get(k), str) for k in ("aor", "prid")):
            log("invalid-token outcome %s names no device (aor, prid): nothing pruned" % outcome.get("id"))
            continue
        ident = (device["aor"], device.get("instanceId"), device["prid"])
        now = time.time()
        if not definite(outcome):
            first = suspected.get(ident)
            if first is None or first[1] == outcome.get("eventId") or now - first[0] < args.confirm_after:
                suspected.setdefault(ident, (now, outcome.get("eventId")))
                log("holding %s|%s: %s (prune on a second answer %g s later, or a 410)"
                    % (device["aor"], device.get("instanceId") or device["prid"], outcome.get("reason"), args.confirm_after))
                continue
        suspected.pop(ident, None)
        aor = registrar.usrloc_aor(device["aor"])
        removed = 0
        for address, instance in registrar.contacts(aor):
            if names_device(address, instance, device):
                registrar.remove(aor, address)
                key = "%s|%s" % (device["aor"], instance or address)
                producer.produce(args.registrations_topic, key=key, value=None)
                removed += 1
                log("removed %s (%s: %s)" % (key, outcome.get("status"), outcome.get("reason")))
        producer.flush(10)
        if not removed:
            log("no binding of %s carries token %s any more" % (device["aor"], device["prid"]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
