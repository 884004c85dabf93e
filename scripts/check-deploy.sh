#!/usr/bin/env bash
# Checks the deployment artifacts (docker-compose.yml, ops/k8s, ops/prometheus, ops/grafana,
# ops/kamailio) with the tools operators use, installing the missing ones (Debian docker-compose,
# prometheus for promtool and kamailio, kubernetes-validate from PyPI; curl and promtool are also what
# Tests/PushfleetTests/DeployArtifactsTests.swift runs). No Docker engine is needed.
# With PUSHFLEET_BIN pointing at a built `pushfleet`, the shipped flexisip.conf files are also
# loaded by the real parser (`pushfleet config check`).
# Prints one summary line: `deploy: N passed, M failed`; exits 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
missing=""
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v curl >/dev/null 2>&1 || missing="$missing curl"  # the metrics test scrapes with it
command -v kamailio >/dev/null 2>&1 || missing="$missing kamailio"
if [ -n "$missing" ]; then
    echo "installing:$missing"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
command -v kubernetes-validate >/dev/null 2>&1 || python3 -m pip install -q kubernetes-validate

passed=0; failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

# check NAME COMMAND...: runs the command, prints its output only when it fails.
check() {
    local name=$1; shift
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$log"
    fi
}

# kubernetes-validate exits 0 on resources it has no schema for (CRDs): fail on those here, so
# only the KEDA file (validated below against the schema we ship) may be skipped.
k8s_core() {
    local files=() f
    for f in ops/k8s/*.yaml; do [ "$f" = ops/k8s/keda-scaledobject.yaml ] || files+=("$f"); done
    kubernetes-validate --strict --quiet "${files[@]}" && ! kubernetes-validate --strict "${files[@]}" | grep -q '^WARN'
}

keda() {
    python3 - ops/k8s/schemas/keda.schema.json ops/k8s/keda-scaledobject.yaml <<'EOF'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
kinds = sorted(d.get("kind", "?") for d in docs)
assert kinds == ["ScaledObject", "TriggerAuthentication"], f"expected a ScaledObject and a TriggerAuthentication, got {kinds}"
errors = [f"{d['kind']}/{d['metadata']['name']}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
          for d in docs for e in jsonschema.Draft202012Validator(schema).iter_errors(d)]
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF
}

# The ConfigMap's flexisip.conf must be a config the worker accepts.
k8s_config() {
    local conf; conf=$(mktemp --suffix=.conf)
    python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["flexisip.conf"])' ops/k8s/configmap.yaml >"$conf" \
        && "$PUSHFLEET_BIN" config check --config "$conf" --set kafka/rdkafka.sasl.password=x
    local status=$?; rm -f "$conf"; return $status
}

grafana() {
    python3 - ops/grafana/*.json <<'EOF'
import json, sys
for path in sys.argv[1:]:
    board = json.load(open(path))
    assert board.get("title") and board.get("uid"), f"{path}: title and uid are required"
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target.get("expr"), f"{path}: panel {panel['title']!r} has a target without expr"
EOF
}

# The Kamailio config with Kamailio's own checker (it does not load the KEMI script: Python
# parses that one), and the SIPp scenarios as XML. KamailioTests runs them all for real.
kamailio_cfg() {
    kamailio -c -f ops/kamailio/kamailio.cfg -A "PF_SCRIPT=\"$PWD/ops/kamailio/pushfleet_router.py\"" \
        -A "PF_CTL=\"unix:$(mktemp -u)\""
}
kamailio_script() {
    python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' ops/kamailio/pushfleet_router.py \
        && for f in ops/kamailio/sipp/*.xml; do python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$f" || return 1; done
}

check "docker-compose config" docker-compose -f docker-compose.yml config -q
check "docker-compose config (profile sandbox)" docker-compose -f docker-compose.yml --profile sandbox config -q
check "kubernetes-validate ops/k8s" k8s_core
check "KEDA ScaledObject schema" keda
check "promtool check rules" promtool check rules ops/prometheus/*.yml
check "promtool test rules" promtool test rules ops/prometheus/tests/*.yml
check "grafana dashboards parse" grafana
check "kamailio -c ops/kamailio/kamailio.cfg" kamailio_cfg
check "ops/kamailio script and SIPp scenarios parse" kamailio_script
if [ -n "${PUSHFLEET_BIN:-}" ]; then
    check "compose flexisip.conf loads" "$PUSHFLEET_BIN" config check --config ops/compose/flexisip.conf
    check "k8s ConfigMap flexisip.conf loads" k8s_config
fi

echo "deploy: $passed passed, $failed failed"
[ "$failed" = 0 ]
