// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "EventMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "EventWire", targets: ["EventWire"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "EventMesh", targets: ["EventMesh"]),
        .library(name: "EventBusWorkloads", targets: ["EventBusWorkloads"]),
        .executable(name: "mesh", targets: ["mesh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        .target(
            name: "EventBus",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "EventWire",
            dependencies: ["EventBus"]
        ),
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]
        ),
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"]
        ),
        .target(
            name: "EventMesh",
            dependencies: [
                "EventBus",
                "EventWire",
                "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "EventBusWorkloads",
            dependencies: ["EventBus", "EventWire"]
        ),
        .executableTarget(
            name: "mesh",
            dependencies: [
                "EventBus",
                "EventMesh",
                "EventBusWorkloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: ["EventBus"]
        ),
        .testTarget(
            name: "EventWireTests",
            dependencies: ["EventWire"],
            // Read from disk by the tests (and by the Python checker and the fuzzer).
            exclude: ["Vectors", "FuzzRegressions"]
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: ["ZeroMQ"]
        ),
        .testTarget(
            name: "EventMeshTests",
            dependencies: ["EventMesh", "ZeroMQ"]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
