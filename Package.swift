// swift-tools-version:6.0
import PackageDescription

/// PushFleet: Flexisip-compatible push notifications as a fleet of stateless workers behind Kafka.
///
/// Layering (arrows point one way): `pushfleet` → engine → senders/policy → contract.
/// `Kafka` knows nothing about pushes; `PushPolicy` imports no networking module.
let package = Package(
    name: "PushFleet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pushfleet", targets: ["pushfleet"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "PushContract", targets: ["PushContract"]),
        .library(name: "PushPolicy", targets: ["PushPolicy"]),
        .library(name: "PushSenders", targets: ["PushSenders"]),
        .library(name: "PushSandbox", targets: ["PushSandbox"]),
        .library(name: "PushEngine", targets: ["PushEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // librdkafka (Debian librdkafka-dev 2.0.2): rdkafka.h and rdkafka_mock.h.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // libnghttp2 (Debian libnghttp2-dev 1.52, the engine of h2load/nghttpd): HTTP/2 framing,
        // HPACK and flow control under the senders' NIO TCP + TLS.
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .target(
            name: "Kafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "PushContract"),
        // Version and git revision of the binary (`pushfleet --version`, `pushfleet_build_info`).
        .plugin(name: "RevisionPlugin", capability: .buildTool()),
        .target(name: "BuildInfo", plugins: ["RevisionPlugin"]),
        .target(name: "PushPolicy", dependencies: ["PushContract"]),
        // Real loopback APNs / FCM / OAuth / generic servers and a test CA, for tests and `pushfleet dev`.
        .target(
            name: "PushSandbox",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PushSenders",
            dependencies: [
                "PushPolicy", "PushContract", "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "PushEngine",
            dependencies: [
                "Kafka", "PushContract", "PushPolicy", "PushSenders",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "pushfleet",
            dependencies: [
                "Kafka", "PushContract", "PushPolicy", "PushSenders", "PushSandbox", "PushEngine", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "pushfleet-bench",
            dependencies: [
                "Kafka", "PushContract", "PushPolicy", "PushSenders", "PushEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The chaos runner (docs/chaos.md): real processes under seeded faults, then invariants.
        .executableTarget(
            name: "pushfleet-chaos",
            dependencies: [
                "Kafka", "PushContract", "PushSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What the test targets share: the manual clock, waiting with a deadline, log capture.
        .target(name: "PushFleetTesting", dependencies: ["PushContract", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "PushFleetTesting"]),
        .testTarget(name: "PushContractTests", dependencies: ["PushContract"]),
        .testTarget(name: "PushPolicyTests", dependencies: ["PushPolicy", "PushContract"]),
        .testTarget(
            name: "PushSendersTests",
            dependencies: [
                // CNGHTTP2: an nghttp2 server session is the peer of the handler's tests.
                "PushSenders", "PushSandbox", "PushPolicy", "PushContract", "CNGHTTP2", "PushFleetTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PushSandboxTests",
            dependencies: [
                "PushSandbox",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "PushEngineTests", dependencies: ["PushEngine", "PushSandbox", "Kafka", "PushPolicy", "PushContract", "PushSenders", "PushFleetTesting"]),
        // Crypto: the .p8 key `pushfleet push` signs with and the APNs sandbox checks.
        .testTarget(name: "PushfleetTests", dependencies: ["Kafka", "PushContract", "PushSandbox", "PushFleetTesting",
                                                           .product(name: "Crypto", package: "swift-crypto")]),
    ],
    swiftLanguageModes: [.v6]
)
