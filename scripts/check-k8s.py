#!/usr/bin/env python3
"""Checks of ops/k8s that need more than a schema; run by scripts/check-deploy.sh.

  split OUTDIR FILE...        write the Kubernetes kinds of FILEs to OUTDIR/core.yaml and each
                              custom resource to OUTDIR/<kind>.<n>.json (for kubernetes-validate
                              and check-jsonschema); fails on a custom kind without a schema
  overlays DIR                the rendered overlays in DIR (plain.yaml, keda.yaml,
                              kube-prometheus.yaml): who owns the replica count, config hashes,
                              Secrets optional where the provider is, KEDA against the workers'
                              consumer, one partition count (Job, KEDA, KafkaTopics), monitoring
                              resources against their one home
  keda FILE CONF              the KEDA trigger against the workers' consumer (flexisip.conf)
  topics FILE DOC             Strimzi KafkaTopics against the settings table of docs/operations.md
  settings FILE               Strimzi KafkaTopics against the settings read on stdin, one topic a
                              line: `name key=value...` (what `topics create` sets, printed from
                              ContractTopic.configs by scripts/check-deploy.sh)
  schemas                     print each custom kind and its schema file, one pair a line
"""
import configparser
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Custom kinds and the CRD schema (ops/k8s/schemas) each is checked against.
SCHEMAS = {
    "ScaledObject": "scaledobject_v1alpha1.json",
    "TriggerAuthentication": "triggerauthentication_v1alpha1.json",
    "PodMonitor": "podmonitor_v1.json",
    "PrometheusRule": "prometheusrule_v1.json",
    "KafkaTopic": "kafkatopic_v1beta2.json",
    "KafkaUser": "kafkauser_v1beta2.json",
}
CORE_GROUPS = {"v1", "apps", "batch", "policy", "rbac.authorization.k8s.io"}


def consumer_offset_reset() -> str:
    """The workers' auto.offset.reset unless the config sets rdkafka.auto.offset.reset:
    KafkaConsumerOptions' default, which the worker does not change."""
    source = (ROOT / "Sources/Kafka/KafkaConsumer.swift").read_text()
    found = re.findall(r'public var autoOffsetReset: String = "(\w+)"', source)
    if len(found) != 1:
        sys.exit("Sources/Kafka/KafkaConsumer.swift: cannot find autoOffsetReset's default: adapt scripts/check-k8s.py")
    return found[0]

problems: list[str] = []


def problem(text: str) -> None:
    problems.append(text)


def docs(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(open(path)) if d]


def kafka_section(conf_path) -> dict:
    """[kafka] of a flexisip.conf (Flexisip's INI: no interpolation, keys case-insensitive)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#",), delimiters=("=",))
    parser.read_string(pathlib.Path(conf_path).read_text())
    section = parser["kafka"] if parser.has_section("kafka") else {}
    return {k.lower(): v for k, v in section.items()}


def split(outdir, files) -> None:
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    core, n = [], 0
    for path in files:
        for d in docs(path):
            group = d.get("apiVersion", "").split("/")[0] if "/" in d.get("apiVersion", "") else "v1"
            if group in CORE_GROUPS:
                core.append(d)
            elif d.get("kind") in SCHEMAS:
                n += 1
                (out / f"{d['kind']}.{n}.json").write_text(json.dumps(d))
            else:
                problem(f"{path}: {d.get('apiVersion')} {d.get('kind')}: no schema in ops/k8s/schemas to check it against")
    (out / "core.yaml").write_text(yaml.safe_dump_all(core))


def check_keda(scaled_objects: list[dict], conf_path, deployment=None) -> None:
    kafka = kafka_section(conf_path)
    group = kafka.get("group-id", "pushfleet")
    events = kafka.get("events-topic", "pushfleet.events")
    env_names = set()
    if deployment is not None:
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            env_names |= {e["name"] for e in c.get("env", [])}
    for so in scaled_objects:
        name = so["metadata"]["name"]
        if so["spec"]["scaleTargetRef"].get("name") != "pushfleet":
            problem(f"ScaledObject {name}: scaleTargetRef is not the pushfleet Deployment")
        kafka_triggers = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
        if not kafka_triggers:
            problem(f"ScaledObject {name}: no kafka trigger")
        for t in kafka_triggers:
            m = t["metadata"]
            if m.get("consumerGroup") != group:
                problem(f"ScaledObject {name}: consumerGroup {m.get('consumerGroup')!r} is not the workers' group-id {group!r} ({conf_path})")
            if m.get("topic") != events:
                problem(f"ScaledObject {name}: topic {m.get('topic')!r} is not the events topic {events!r}")
            # A default of the consumer's, which [kafka] rdkafka.auto.offset.reset overrides.
            reset = kafka.get("rdkafka.auto.offset.reset") or consumer_offset_reset()
            if m.get("offsetResetPolicy") != reset:
                problem(f"ScaledObject {name}: offsetResetPolicy {m.get('offsetResetPolicy')!r} differs from the workers' "
                        f"auto.offset.reset={reset} ({conf_path} or Sources/Kafka/KafkaConsumer.swift's default)")
            if "lagThreshold" not in m:
                problem(f"ScaledObject {name}: no lagThreshold")
            if not (("bootstrapServers" in m) ^ ("bootstrapServersFromEnv" in m)):
                problem(f"ScaledObject {name}: give exactly one of bootstrapServers and bootstrapServersFromEnv")
            if deployment is not None and "bootstrapServersFromEnv" in m and m["bootstrapServersFromEnv"] not in env_names:
                problem(f"ScaledObject {name}: bootstrapServersFromEnv {m['bootstrapServersFromEnv']} is not an env of the Deployment's containers")


def check_overlays(directory) -> None:
    d = pathlib.Path(directory)
    conf = ROOT / "ops/k8s/base/flexisip.conf"
    for overlay in ("plain", "keda", "kube-prometheus"):
        rendered = docs(d / f"{overlay}.yaml")
        by_kind: dict[str, list[dict]] = {}
        for doc in rendered:
            by_kind.setdefault(doc["kind"], []).append(doc)
        deployments = by_kind.get("Deployment", [])
        if len(deployments) != 1:
            problem(f"{overlay}: expected one Deployment, got {len(deployments)}")
            continue
        dep = deployments[0]
        keda = bool(by_kind.get("ScaledObject"))
        if keda and "replicas" in dep["spec"]:
            problem(f"{overlay}: KEDA owns the worker count, yet the Deployment sets replicas (kubectl apply would reset KEDA's choice)")
        if not keda and "replicas" not in dep["spec"]:
            problem(f"{overlay}: neither KEDA nor a replica count")
        if overlay != "plain" and not keda:
            problem(f"{overlay}: no ScaledObject")
        if keda:
            check_keda(by_kind["ScaledObject"], conf, dep)
        configmaps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
        secrets_optional = {"pushfleet-apns-certificates", "pushfleet-apns-keys", "pushfleet-firebase"}
        pod = dep["spec"]["template"]["spec"]
        for volume in pod["volumes"]:
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                if name not in configmaps:
                    problem(f"{overlay}: volume {volume['name']} names ConfigMap {name}, which the overlay does not create")
                elif not re.fullmatch(r"pushfleet-config-[a-z0-9]{10}", name):
                    problem(f"{overlay}: the workers' config volume uses ConfigMap {name} without a content hash: a change would not reach running pods")
                elif configmaps[name]["data"]["flexisip.conf"] != conf.read_text():
                    problem(f"{overlay}: ConfigMap {name} is not ops/k8s/base/flexisip.conf")
            if "secret" in volume and volume["secret"]["secretName"] in secrets_optional and not volume["secret"].get("optional"):
                problem(f"{overlay}: Secret {volume['secret']['secretName']} is for an optional provider but not optional: pods would not start without it")
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ref["name"] not in configmaps:
                    problem(f"{overlay}: env {env['name']} names ConfigMap {ref['name']}, which the overlay does not create")
            if container["image"] == "pushfleet":
                problem(f"{overlay}: image not set (base/kustomization.yaml images)")
        jobs = by_kind.get("Job", [])
        if [j["metadata"]["name"] for j in jobs] != ["pushfleet-topics"]:
            problem(f"{overlay}: expected the pushfleet-topics Job")
        # One partition count everywhere: the Job's --partitions, KEDA's maxReplicaCount (a worker
        # beyond the events partitions owns nothing) and the Strimzi KafkaTopics.
        for job in jobs:
            command = " ".join(" ".join(c.get("command", []) + c.get("args", [])) for c in job["spec"]["template"]["spec"]["containers"])
            found = re.findall(r"--partitions\s+(\d+)", command)
            if len(found) != 1:
                problem(f"{overlay}: the topics Job does not name --partitions once")
                continue
            partitions = int(found[0])
            for so in by_kind.get("ScaledObject", []):
                if so["spec"].get("maxReplicaCount") != partitions:
                    problem(f"{overlay}: KEDA's maxReplicaCount {so['spec'].get('maxReplicaCount')} is not the events partition count {partitions} (topics Job)")
            strimzi = d / "strimzi.yaml"
            if strimzi.exists():
                for topic in docs(strimzi):
                    if topic["kind"] == "KafkaTopic" and topic["spec"].get("topicName", topic["metadata"]["name"]) in ("pushfleet.events", "pushfleet.state") \
                            and topic["spec"].get("partitions") != partitions:
                        problem(f"{overlay}: KafkaTopic {topic['metadata']['name']} has {topic['spec'].get('partitions')} partitions, the topics Job {partitions}")
        for job in jobs:
            for volume in job["spec"]["template"]["spec"]["volumes"]:
                if "configMap" in volume and volume["configMap"]["name"] not in configmaps:
                    problem(f"{overlay}: the Job's volume names ConfigMap {volume['configMap']['name']}, which the overlay does not create")
                if "configMap" in volume and re.search(r"-[a-z0-9]{10}$", volume["configMap"]["name"]):
                    problem(f"{overlay}: the Job uses a hash-suffixed ConfigMap: a config change would make its pod template differ, which Kubernetes refuses")
        if overlay == "kube-prometheus":
            rules = by_kind.get("PrometheusRule", [])
            alerts = yaml.safe_load(open(ROOT / "ops/prometheus/pushfleet-alerts.yml"))
            if len(rules) != 1 or rules[0]["spec"] != alerts:
                problem("kube-prometheus: the PrometheusRule's spec is not ops/prometheus/pushfleet-alerts.yml")
            board = configmaps.get("pushfleet-dashboard")
            dashboard = (ROOT / "ops/grafana/pushfleet-dashboard.json").read_text()
            if board is None or board["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
                problem('kube-prometheus: no ConfigMap pushfleet-dashboard labelled grafana_dashboard: "1"')
            elif board["data"].get("pushfleet-dashboard.json") != dashboard:
                problem("kube-prometheus: the dashboard ConfigMap is not ops/grafana/pushfleet-dashboard.json")
            monitors = by_kind.get("PodMonitor", [])
            ports = {p["name"] for c in pod["containers"] for p in c.get("ports", [])}
            labels = dep["spec"]["template"]["metadata"]["labels"]
            if len(monitors) != 1:
                problem("kube-prometheus: expected one PodMonitor")
            for m in monitors:
                if any(labels.get(k) != v for k, v in m["spec"]["selector"].get("matchLabels", {}).items()):
                    problem("kube-prometheus: the PodMonitor's selector does not match the worker pods")
                for ep in m["spec"]["podMetricsEndpoints"]:
                    if ep.get("port") not in ports:
                        problem(f"kube-prometheus: PodMonitor port {ep.get('port')!r} is not a port of the worker container")


def check_topics(path, doc_path) -> None:
    """The KafkaTopics carry the settings `pushfleet topics create` sets, as the table of
    docs/operations.md ("1. Create the topics": topics, settings, why) lists them."""
    text = pathlib.Path(doc_path).read_text()
    section = text.split("### 1. Create the topics", 1)[1].split("\n### ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`pushfleet."):
            settings = dict(re.findall(r"`([a-z.]+)=([^`]+)`", cells[1]))
            for name in re.findall(r"`(pushfleet\.[a-z.-]+)`", cells[0]):
                table[name] = settings
    if len(table) != 5:
        problem(f"{doc_path}: expected the five topics in the settings table of '1. Create the topics', found {sorted(table)}")
    topics = {d["spec"].get("topicName", d["metadata"]["name"]): d for d in docs(path) if d["kind"] == "KafkaTopic"}
    if set(topics) != set(table):
        problem(f"{path}: KafkaTopics {sorted(topics)} are not the topics of {doc_path} {sorted(table)}")
    for name, settings in table.items():
        if name not in topics:
            continue
        config = {k: str(v) for k, v in topics[name]["spec"].get("config", {}).items()}
        for key, value in settings.items():
            if config.get(key) != value:
                problem(f"{path}: {name} has {key}={config.get(key)}, {doc_path} says {value}")
        extra = set(config) - set(settings) - {"min.insync.replicas"}
        if extra:
            problem(f"{path}: {name} sets {sorted(extra)}, which `topics create` does not ({doc_path})")
    partitions = {n: t["spec"].get("partitions") for n, t in topics.items()}
    if partitions.get("pushfleet.events") != partitions.get("pushfleet.state"):
        problem(f"{path}: pushfleet.state must have the events topic's partition count")


def check_settings(path, lines) -> None:
    """The KafkaTopics carry exactly the settings `topics create` sets (min.insync.replicas aside)."""
    expected = {}
    for line in lines:
        if line.strip():
            name, *pairs = line.split()
            expected[name] = dict(p.split("=", 1) for p in pairs)
    if len(expected) != 5:
        problem(f"expected the settings of five topics on stdin, got {sorted(expected)}")
    topics = {d["spec"].get("topicName", d["metadata"]["name"]): d for d in docs(path) if d["kind"] == "KafkaTopic"}
    if set(topics) != set(expected):
        problem(f"{path}: KafkaTopics {sorted(topics)} are not the topics `topics create` makes {sorted(expected)}")
    for name, settings in expected.items():
        if name in topics:
            config = {k: str(v) for k, v in topics[name]["spec"].get("config", {}).items()}
            config.pop("min.insync.replicas", None)
            if config != settings:
                problem(f"{path}: {name} has {config}, `topics create` sets {settings}")


def main(argv) -> int:
    if not argv:
        sys.exit(__doc__)
    command, args = argv[0], argv[1:]
    if command == "split":
        split(args[0], args[1:])
    elif command == "overlays":
        check_overlays(args[0])
    elif command == "keda":
        check_keda([d for d in docs(args[0]) if d["kind"] == "ScaledObject"], args[1])
    elif command == "topics":
        check_topics(args[0], args[1])
    elif command == "settings":
        check_settings(args[0], sys.stdin.read().splitlines())
    elif command == "schemas":
        for kind, schema in SCHEMAS.items():
            print(kind, schema)
    else:
        sys.exit(__doc__)
    if problems:
        print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
