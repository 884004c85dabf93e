#!/usr/bin/env bash
# Runs a built `pushfleet` the way the Dockerfile's runtime stage would, without a Docker engine:
# a Debian bookworm minbase root (debootstrap; what debian:bookworm-slim is made of) with only the
# packages the runtime stage installs, the image's user 10001, and the image's HEALTHCHECK
# command. Checks that `pushfleet dev` sends pushes there (TLS, HTTP/2, Kafka: the libraries the
# image ships are enough and an unprivileged user can open provider connections), and that a
# worker turns healthy and exits 0 on SIGTERM.
#
#   scripts/check-image-runtime.sh [PUSHFLEET_BINARY] [ROOT_DIR]
#
# The image links the Swift runtime statically (--static-swift-stdlib); a binary from `swift
# build` links it dynamically, so the toolchain's runtime libraries are copied in beside it.
# Needs root (debootstrap, chroot, bind mounts) and network access to deb.debian.org; about a
# minute the first time. The minbase root is cached as ROOT_DIR.minbase.tar and unpacked afresh
# on every run, so packages from an earlier run never linger.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$(swift build --show-bin-path)/pushfleet}
ROOT=${2:-/tmp/pushfleet-image-root}
SWIFT_RUNTIME=$(dirname "$(dirname "$(command -v swift)")")/lib/swift/linux

runtime_packages=$(awk '/^FROM \$\{RUNTIME_IMAGE\}/{r=1} r && /apt-get install/' Dockerfile \
    | sed 's/.*--no-install-recommends//; s/\\//' | xargs)
healthcheck=$(sed -n 's/^  CMD \["\/bin\/bash", "-c", "\(.*\)"\]$/\1/p' Dockerfile | sed 's/\\\\/\\/g')
[ -n "$runtime_packages" ] && [ -n "$healthcheck" ] || { echo "cannot read the runtime stage from Dockerfile"; exit 1; }

# A fresh root every run, unpacked from a cached minbase tarball: a package taken out of the
# runtime stage must be missing here, not left over from an earlier run.
if [ ! -s "$ROOT.minbase.tar" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    rm -rf "$ROOT.build"
    debootstrap --variant=minbase bookworm "$ROOT.build" http://deb.debian.org/debian >/dev/null
    tar -C "$ROOT.build" -cf "$ROOT.minbase.tar" . && rm -rf "$ROOT.build"
fi
for m in proc dev; do
    umount "$ROOT/$m" 2>/dev/null || true
    # Never delete through a bind mount of the host's /proc or /dev.
    if mountpoint -q "$ROOT/$m"; then echo "$ROOT/$m is still mounted: unmount it first"; exit 1; fi
done
rm -rf "$ROOT" && mkdir -p "$ROOT" && tar -C "$ROOT" -xf "$ROOT.minbase.tar"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
chroot "$ROOT" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $runtime_packages >/dev/null 2>&1"
chroot "$ROOT" bash -c 'id -u pushfleet >/dev/null 2>&1 || useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin pushfleet 2>/dev/null'
mkdir -p "$ROOT/opt/swift-runtime"
cp "$SWIFT_RUNTIME"/*.so "$ROOT/opt/swift-runtime/"
install -m 755 "$BIN" "$ROOT/usr/local/bin/pushfleet"
mountpoint -q "$ROOT/proc" || mount --bind /proc "$ROOT/proc"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
trap 'umount "$ROOT/proc" "$ROOT/dev" 2>/dev/null || true' EXIT

as_image() { chroot --userspec=10001:10001 "$ROOT" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LD_LIBRARY_PATH=/opt/swift-runtime "$@"; }

echo "runtime stage: $runtime_packages"
out=$(as_image bash -c 'cd /tmp && timeout 90 pushfleet dev --duration 12 --workers 1 --partitions 2' 2>&1) || true
grep -q "✓ sent          voip via apns.dev call dev-voip-call" <<<"$out" || { echo "FAIL pushfleet dev sent no VoIP push:"; tail -20 <<<"$out"; exit 1; }
echo "ok   pushfleet dev as uid 10001: $(grep -c '✓ sent' <<<"$out") pushes sent"

printf '%s\n' "$healthcheck" >"$ROOT/tmp/healthcheck.sh"  # what HEALTHCHECK runs with bash -c
# A port nothing else listens on (the chroot shares the host's network): the healthcheck must
# reach this worker, not some other listener.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$ROOT/tmp/health.sh" <<EOF
cd /tmp
pushfleet dev-broker --partitions 2 >/tmp/broker.out 2>/dev/null &
broker=\$!
for _ in \$(seq 100); do [ -s /tmp/broker.out ] && break; sleep 0.1; done
printf '[module::PushNotification]\nenabled=true\n[kafka]\nbootstrap-servers=%s\n[pushfleet]\nmetrics-listen=127.0.0.1:$port\n' "\$(head -1 /tmp/broker.out)" >/tmp/flexisip.conf
PUSHFLEET_CONFIG=/tmp/flexisip.conf pushfleet worker >/tmp/worker.log 2>&1 &
worker=\$!
healthy=no
for _ in \$(seq 60); do
    kill -0 \$worker 2>/dev/null || break
    if PUSHFLEET_METRICS_PORT=$port /bin/bash /tmp/healthcheck.sh 2>/dev/null; then healthy=yes; break; fi
    sleep 0.5
done
kill -TERM \$worker; wait \$worker; status=\$?
kill \$broker; wait \$broker 2>/dev/null
echo "healthy=\$healthy exit=\$status"
EOF
result=$(as_image bash /tmp/health.sh)
[ "$result" = "healthy=yes exit=0" ] || { echo "FAIL worker health/shutdown: $result"; exit 1; }
echo "ok   worker healthy by the image's HEALTHCHECK, exit 0 on SIGTERM"
