# PushFleet worker image: `pushfleet` built with the Swift toolchain and a static Swift standard
# library, run on Debian slim with librdkafka and libnghttp2 (the HTTP/2 engine of the push
# senders) as the only extra libraries.
#
#   docker build --build-arg PUSHFLEET_REVISION=$(git rev-parse --short=12 HEAD) -t pushfleet .
#   docker run --rm -v $PWD/flexisip.conf:/etc/pushfleet/flexisip.conf:ro pushfleet
#
# Validated in CI only through `docker-compose config` (no Docker engine there): see ops/README.md.

# Same toolchain line as development (Swift 6.3, Debian 12), so the build matches `make test`.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka-dev libnghttp2-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The pinned dependencies in a layer of their own: a source change does not fetch them again.
COPY Package.swift Package.resolved ./
RUN swift package resolve
# Tests/ too: SwiftPM wants the directory of every declared target, test targets included.
COPY Plugins ./Plugins
COPY Sources ./Sources
COPY Tests ./Tests
# The build context has no .git: the revision comes in as a build argument
# (docker build --build-arg PUSHFLEET_REVISION=$(git rev-parse --short=12 HEAD) .).
ARG PUSHFLEET_REVISION=unknown
RUN PUSHFLEET_REVISION="${PUSHFLEET_REVISION}" swift build -c release --product pushfleet --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/pushfleet" /out/pushfleet \
 && strip /out/pushfleet

FROM ${RUNTIME_IMAGE}
ARG PUSHFLEET_REVISION=unknown
LABEL org.opencontainers.image.title="pushfleet" \
      org.opencontainers.image.description="Flexisip-compatible push notifications for SIP, as a fleet of stateless workers behind Kafka" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${PUSHFLEET_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# librdkafka1 and libnghttp2-14 are the only shared libraries beyond what Debian slim has (glibc,
# libstdc++, zlib) that the static build needs: `scripts/check-deploy.sh` compares these lines
# with what the built binary links. ca-certificates for the providers' and Kafka's TLS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka1 libnghttp2-14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin pushfleet \
 && install -d -o pushfleet -g pushfleet /etc/pushfleet /var/lib/pushfleet-sandbox
COPY --from=build /out/pushfleet /usr/local/bin/pushfleet
USER 10001:10001
ENV PUSHFLEET_CONFIG=/etc/pushfleet/flexisip.conf
# metrics-listen must be reachable from outside the container (e.g. 0.0.0.0:9464).
EXPOSE 9464
# No curl in the image: bash's /dev/tcp asks /health and checks the status line.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PUSHFLEET_METRICS_PORT:-9464} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pushfleet"]
CMD ["worker"]
