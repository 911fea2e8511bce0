// swift-tools-version: 6.1
import PackageDescription

// SwiftPM names a path dependency after its folder, not after the `name:` in its manifest, and
// a clone of this repository may sit in a folder of any name: read the name of the folder above.
let eventMesh = String(#filePath.split(separator: "/").dropLast(2).last ?? "main")

let package = Package(
    name: "EventMeshBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // package-benchmark, under the name its plugin asks for since the repository was renamed
        // (github.com/ordo-one/package-benchmark still redirects). Naming the MallocInterposer
        // trait turns the default traits off: allocations are counted by the interposer (no
        // jemalloc needed), and the Swift-6.3 runtime interposer package, which is not
        // available offline and only serves ARC metrics, is not pulled in.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "EventBusBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EventBusWorkloads", package: eventMesh),
            ],
            path: "Benchmarks/EventBusBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // A plain driver that runs one workload without package-benchmark, for profilers.
        .executableTarget(
            name: "EventBusProfile",
            dependencies: [
                .product(name: "EventBusWorkloads", package: eventMesh),
            ],
            path: "Profiling/EventBusProfile"
        ),
    ]
)
