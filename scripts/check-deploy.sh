#!/usr/bin/env bash
# Checks the deployment artifacts (docker-compose.yml, ops/k8s, ops/prometheus, ops/grafana,
# ops/kamailio) with the tools operators use, installing the missing ones (Debian docker-compose,
# prometheus for promtool and kamailio, kubernetes-validate from PyPI; curl and promtool are also what
# Tests/PushfleetTests/DeployArtifactsTests.swift runs). No Docker engine is needed.
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
        && KAFKA_SASL_PASSWORD=x "$PUSHFLEET_BIN" config check --values-only --config "$conf"
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
check "docker-compose config (profile sandbox)" docker-compose -f docker-compose.yml --profile sandbox config -q
check "kubernetes-validate ops/k8s" k8s_core
check "KEDA ScaledObject schema" keda
check "promtool check rules" promtool check rules ops/prometheus/*.yml
check "promtool test rules" promtool test rules ops/prometheus/tests/*.yml
check "grafana dashboards parse" grafana
check "kamailio -c ops/kamailio/kamailio.cfg" kamailio_cfg
check "ops/kamailio script and SIPp scenarios parse" kamailio_script
if [ -n "${PUSHFLEET_BIN:-}" ]; then
    check "compose flexisip.conf loads" "$PUSHFLEET_BIN" config check --values-only --config ops/compose/flexisip.conf
    check "k8s ConfigMap flexisip.conf loads" k8s_config
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
