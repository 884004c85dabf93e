#!/usr/bin/env bash
# Checks the deployment artifacts (docker-compose.yml and ops/compose, ops/k8s, ops/prometheus,
# ops/grafana, ops/kamailio) with the tools operators use, installing the missing ones (Debian
# docker-compose, prometheus for promtool and kamailio, kubernetes-validate and check-jsonschema
# from PyPI; curl and promtool are also what Tests/PushfleetTests/DeployArtifactsTests.swift runs).
# No Docker engine is needed. The kustomizations of ops/k8s are rendered with `kubectl kustomize`
# (or `kustomize build`); neither comes from Debian bookworm or PyPI (bookworm's kubernetes-client
# is kubectl 1.20, whose kustomize predates components), so on a machine without them the render
# and the checks of rendered output are skipped with a line saying so, and the source files are
# checked instead.
# With PUSHFLEET_BIN pointing at a built `pushfleet`, the shipped flexisip.conf files are also
# loaded by the real parser (`pushfleet config check`), the Dockerfile's package lists are compared
# with what the binary links, and (as root) the binary is run as the image's runtime stage would
# run it (scripts/check-image-runtime.sh).
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
command -v check-jsonschema >/dev/null 2>&1 || python3 -m pip install -q check-jsonschema

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

# ops/k8s: kustomize renders the overlays (plain, keda, kube-prometheus), the Strimzi examples
# and the dashboard ConfigMap into $render; without a renderer the source files stand in.
KUSTOMIZE=()
if command -v kubectl >/dev/null 2>&1; then KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then KUSTOMIZE=(kustomize build)
fi
K8S_BUILDS="overlays/plain overlays/keda overlays/kube-prometheus strimzi"
render=$(mktemp -d); trap 'rm -f "$log"; rm -rf "$render"' EXIT

k8s_render() {
    local b
    for b in $K8S_BUILDS; do
        "${KUSTOMIZE[@]}" "ops/k8s/$b" >"$render/$(basename "$b").yaml" || { echo "cannot render ops/k8s/$b"; return 1; }
    done
    "${KUSTOMIZE[@]}" ops/grafana >"$render/grafana.yaml" || { echo "cannot render ops/grafana"; return 1; }
}

# The files to validate: what kustomize rendered, or the source manifests without a renderer.
k8s_files() {
    if [ ${#KUSTOMIZE[@]} -gt 0 ]; then
        ls "$render"/*.yaml
    else
        ls ops/k8s/base/*.yaml ops/k8s/components/*/*.yaml ops/k8s/strimzi/*.yaml | grep -v '/kustomization\.yaml$'
    fi
}

# Kubernetes' own kinds with kubernetes-validate, which exits 0 on kinds it has no schema for:
# scripts/check-k8s.py split sets the custom resources apart (and fails on one without a schema).
k8s_core() {
    local split=$render/split
    rm -rf "$split"
    # shellcheck disable=SC2046 # one file name a word
    scripts/check-k8s.py split "$split" $(k8s_files) || return 1
    kubernetes-validate --strict --quiet "$split/core.yaml" && ! kubernetes-validate --strict "$split/core.yaml" | grep -q '^WARN'
}

# Each custom resource against its operator's published CRD schema (ops/k8s/schemas/README.md);
# every kind of the table must occur.
k8s_crds() {
    local split=$render/split kind schema status=0
    [ -f "$split/core.yaml" ] || { echo "nothing split: the kubernetes-validate check failed first"; return 1; }
    while read -r kind schema; do
        if ! compgen -G "$split/$kind.*.json" >/dev/null; then echo "no $kind among the manifests"; status=1; continue; fi
        check-jsonschema --schemafile "ops/k8s/schemas/$schema" "$split/$kind".*.json || status=1
    done < <(scripts/check-k8s.py schemas)
    return $status
}

k8s_overlays() { scripts/check-k8s.py overlays "$render"; }
k8s_keda_source() { scripts/check-k8s.py keda ops/k8s/components/keda/keda-scaledobject.yaml ops/k8s/base/flexisip.conf; }
prometheusrule_generated() {
    scripts/gen-prometheusrule.py | diff -u ops/k8s/components/kube-prometheus/prometheusrule.yaml - \
        || { echo "ops/k8s/components/kube-prometheus/prometheusrule.yaml is out of date: run scripts/gen-prometheusrule.py --write"; return 1; }
}
strimzi_topics() { scripts/check-k8s.py topics ops/k8s/strimzi/kafkatopics.yaml docs/operations.md; }

# The settings' one home is ContractTopic.configs (Sources/PushContract/ContractTopics.swift, which
# `topics create` applies): that file, compiled alone with a two-line driver, prints them.
strimzi_topics_source() {
    local dir status; dir=$(mktemp -d)
    printf '%s\n' 'for t in ContractTopic.all { print(t.defaultName, t.configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }' >"$dir/main.swift"
    swiftc -Onone Sources/PushContract/ContractTopics.swift "$dir/main.swift" -o "$dir/settings" \
        || { echo "Sources/PushContract/ContractTopics.swift no longer compiles alone: adapt this check"; rm -rf "$dir"; return 1; }
    "$dir/settings" | scripts/check-k8s.py settings ops/k8s/strimzi/kafkatopics.yaml
    status=$?; rm -rf "$dir"; return $status
}

# The workers' flexisip.conf of ops/k8s must be a config the worker accepts, with the bootstrap
# address of pushfleet.env (the Deployment's environment) expanded into it.
k8s_config() {
    ( set -a; . ops/k8s/base/pushfleet.env; set +a
      [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || { echo "ops/k8s/base/pushfleet.env sets no KAFKA_BOOTSTRAP_SERVERS"; exit 1; }
      KAFKA_SASL_PASSWORD=x "$PUSHFLEET_BIN" config check --values-only --config ops/k8s/base/flexisip.conf )
}

# The config ops/compose/sandbox.env selects for the sandbox profile.
compose_sandbox_config() {
    local conf; conf=$(sed -n 's/^PUSHFLEET_CONF=//p' ops/compose/sandbox.env)
    [ -f "$conf" ] || { echo "ops/compose/sandbox.env: PUSHFLEET_CONF=$conf is not a file"; return 1; }
    "$PUSHFLEET_BIN" config check --values-only --config "$conf"
}

# docker-compose.yml's observability profile: Prometheus's config with the rules at the paths the
# container sees (the compose file's volumes, rebuilt under a temporary root), Grafana's
# provisioning pointing at the mounted dashboard and at the profile's Prometheus.
compose_observability() {
    local root status; root=$(mktemp -d)
    python3 - "$root" <<'EOF'
import os, subprocess, sys, yaml
root = sys.argv[1]
config = yaml.safe_load(subprocess.run(["docker-compose", "-f", "docker-compose.yml", "--profile", "observability", "config"],
                                       check=True, capture_output=True, text=True).stdout)
def mounts(service):
    out = {}
    for v in config["services"][service]["volumes"]:
        source, target = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
        out[target] = source
    return out
for target, source in mounts("prometheus").items():
    os.makedirs(os.path.dirname(root + target), exist_ok=True)
    os.symlink(os.path.abspath(source), root + target)
grafana = mounts("grafana")
provisioning = grafana["/etc/grafana/provisioning"]
for provider in yaml.safe_load(open(os.path.join(provisioning, "dashboards/pushfleet.yml")))["providers"]:
    path = provider["options"]["path"]
    assert path in grafana, f"Grafana's dashboard provider reads {path}, which docker-compose.yml does not mount"
    assert os.path.exists(os.path.join(grafana[path], "pushfleet-dashboard.json")), f"{grafana[path]} has no pushfleet-dashboard.json"
sources = yaml.safe_load(open(os.path.join(provisioning, "datasources/prometheus.yml")))["datasources"]
assert [s["url"] for s in sources] == ["http://prometheus:9090"], "Grafana's data source is not the profile's Prometheus"
EOF
    status=$?
    [ $status = 0 ] && { promtool check config "$root/etc/prometheus/prometheus.yml"; status=$?; }
    rm -rf "$root"; return $status
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

# The Dockerfile's package lists against what the built binary links (no Docker engine here to
# build the image): every system library the binary needs (`readelf` NEEDED, Swift's own
# libraries aside: the image links them statically) must come from a package the runtime stage
# installs or that Debian slim already has, and the -dev package of every C library a system
# module links must be in the build stage.
dockerfile_libraries() {
    local build runtime lib path pkg module name status=0
    local needed
    # One package name per line, compared whole (grep -w would take libfoo1 for libfoo1-dbg).
    build=$(awk '/^FROM .* AS build/{b=1} /^FROM \$\{RUNTIME_IMAGE\}/{b=0} b && /apt-get install/' Dockerfile | tr ' ' '\n')
    runtime=$(awk '/^FROM \$\{RUNTIME_IMAGE\}/{r=1} r && /apt-get install/' Dockerfile | tr ' ' '\n')
    needed=$(readelf -d "$PUSHFLEET_BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p') || { echo "readelf cannot read $PUSHFLEET_BIN"; return 1; }
    grep -qx 'libc.so.6' <<<"$needed" || { echo "no libc.so.6 among the libraries $PUSHFLEET_BIN needs: not read right"; return 1; }
    for lib in $needed; do
        case $lib in libswift*|libFoundation*|libdispatch*|libBlocksRuntime*|lib_Foundation*) continue ;; esac
        path=$(/sbin/ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64/ {print $NF; exit}')
        path=$(readlink -f "${path:-/nonexistent}")
        # dpkg knows some files by their /lib name, some by their /usr/lib one (merged /usr).
        pkg=$( { dpkg -S "$path" || dpkg -S "${path#/usr}"; } 2>/dev/null | head -1 | cut -d: -f1)
        case $pkg in libc6|libstdc++6|libgcc-s1|zlib1g) continue ;; esac  # all in debian:bookworm-slim
        if [ -z "$pkg" ] || ! grep -qxF -- "$pkg" <<<"$runtime"; then
            echo "runtime stage does not install ${pkg:-the package of $lib} ($lib is linked by pushfleet)"; status=1
        fi
    done
    for module in Sources/C*/module.modulemap; do
        for name in $(sed -n 's/.*link "\(.*\)".*/\1/p' "$module"); do
            pkg=$(dpkg -S "/usr/lib/x86_64-linux-gnu/lib$name.so" 2>/dev/null | cut -d: -f1)
            if [ -z "$pkg" ] || ! grep -qxF -- "$pkg" <<<"$build"; then
                echo "build stage does not install ${pkg:-the -dev package of lib$name} ($module links $name)"; status=1
            fi
        done
    done
    return $status
}

# The build stage copies every directory a target of Package.swift lives in (Sources, Tests,
# Plugins) and the pins; the image's version label is the binary's release.
dockerfile_sources() {
    local dir status=0 version
    for dir in Sources Tests Plugins; do
        [ -d "$dir" ] || continue
        grep -qE "^COPY $dir \./$dir\$" Dockerfile || { echo "the build stage does not COPY $dir"; status=1; }
    done
    grep -qE '^COPY Package.swift Package.resolved \./$' Dockerfile || { echo "the build stage does not COPY Package.swift Package.resolved"; status=1; }
    version=$(sed -n 's/.*public static let version = "\(.*\)".*/\1/p' Sources/BuildInfo/BuildInfo.swift)
    grep -qF "org.opencontainers.image.version=\"$version\"" Dockerfile || { echo "the image's version label is not $version (Sources/BuildInfo)"; status=1; }
    return $status
}

# Every alert has a runbook_url, and each points at a heading of docs/troubleshooting.md.
runbooks() {
    python3 - ops/prometheus/pushfleet-alerts.yml docs/troubleshooting.md <<'EOF'
import re, sys, yaml
rules, doc = sys.argv[1], open(sys.argv[2]).read()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", doc, re.M)}
bad = []
for group in yaml.safe_load(open(rules))["groups"]:
    for rule in group["rules"]:
        if "alert" not in rule:
            continue
        url = rule.get("annotations", {}).get("runbook_url", "")
        if not url.startswith("docs/troubleshooting.md#") or url.split("#", 1)[1] not in anchors:
            bad.append(f"{rule['alert']}: runbook_url {url!r} is not a heading of docs/troubleshooting.md")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}

check "Dockerfile copies every target directory, the pins and labels the release" dockerfile_sources
check "every alert's runbook_url is a heading of docs/troubleshooting.md" runbooks
check "docker-compose config" docker-compose -f docker-compose.yml config -q
check "docker-compose config (--env-file ops/compose/sandbox.env --profile sandbox)" \
    docker-compose -f docker-compose.yml --env-file ops/compose/sandbox.env --profile sandbox config -q
check "docker-compose config (profile observability)" docker-compose -f docker-compose.yml --profile observability config -q
check "compose observability: promtool check config, Grafana provisioning" compose_observability
if [ ${#KUSTOMIZE[@]} -gt 0 ]; then
    check "kustomize ops/k8s ($K8S_BUILDS) and ops/grafana (${KUSTOMIZE[*]})" k8s_render
else
    echo "skip kustomize render of ops/k8s: neither kubectl nor kustomize is installed (no Debian bookworm or PyPI package provides a kustomize with components); the source manifests are checked instead"
fi
check "kubernetes-validate --strict ops/k8s" k8s_core
check "check-jsonschema ops/k8s custom resources against their CRD schemas" k8s_crds
if [ ${#KUSTOMIZE[@]} -gt 0 ]; then
    check "ops/k8s overlays: replicas owner, config hash, optional Secrets, KEDA vs consumer, one partition count, monitoring" k8s_overlays
else
    check "KEDA trigger against the workers' consumer (source manifest)" k8s_keda_source
fi
check "PrometheusRule is ops/prometheus/pushfleet-alerts.yml (scripts/gen-prometheusrule.py)" prometheusrule_generated
check "Strimzi KafkaTopics carry docs/operations.md's topic settings" strimzi_topics
if command -v swiftc >/dev/null 2>&1; then
    check "Strimzi KafkaTopics carry the settings topics create sets (ContractTopic.configs)" strimzi_topics_source
else
    echo "skip KafkaTopics against ContractTopic.configs: no swiftc on PATH"
fi
check "promtool check rules" promtool check rules ops/prometheus/*.yml
check "promtool test rules" promtool test rules ops/prometheus/tests/*.yml
check "grafana dashboards parse" grafana
check "kamailio -c ops/kamailio/kamailio.cfg" kamailio_cfg
check "ops/kamailio script and SIPp scenarios parse" kamailio_script
if [ -n "${PUSHFLEET_BIN:-}" ]; then
    # Without --values-only: the default compose workers must start without any file that only
    # the sandbox profile creates (they would crash-loop otherwise).
    check "compose flexisip.conf loads with no sandbox file (full check)" "$PUSHFLEET_BIN" config check --config ops/compose/flexisip.conf
    check "compose sandbox.conf (ops/compose/sandbox.env) loads" compose_sandbox_config
    check "k8s flexisip.conf loads with pushfleet.env's bootstrap address" k8s_config
    check "Dockerfile installs the libraries pushfleet links" dockerfile_libraries
    # The image's runtime stage for real, short of a Docker engine: see the script's header.
    if [ "$(id -u)" = 0 ]; then
        check "image runtime: Debian minbase + the runtime packages, uid 10001, HEALTHCHECK" \
            scripts/check-image-runtime.sh "$PUSHFLEET_BIN"
    else
        echo "skip image runtime check (needs root for debootstrap and chroot)"
    fi
fi

echo "deploy: $passed passed, $failed failed"
[ "$failed" = 0 ]
