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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // librdkafka (Debian librdkafka-dev 2.0.2): rdkafka.h and rdkafka_mock.h.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "Kafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "PushContract"),
        .target(name: "PushPolicy", dependencies: ["PushContract"]),
        .executableTarget(
            name: "pushfleet",
            dependencies: [
                "Kafka", "PushContract", "PushPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "pushfleet-bench",
            dependencies: [
                "Kafka", "PushContract", "PushPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "PushContractTests", dependencies: ["PushContract"]),
        .testTarget(name: "PushPolicyTests", dependencies: ["PushPolicy", "PushContract"]),
        .testTarget(name: "PushfleetTests", dependencies: ["Kafka"]),
    ],
    swiftLanguageModes: [.v6]
)
