// swift-tools-version: 6.0
import PackageDescription

// The libFuzzer target for EventWire's decoder. A nested package, so that the root package's
// `swift build` and `swift test` never try to link it (libFuzzer provides `main`). Build and run
// it with Fuzz/run.sh.

// SwiftPM names a path dependency after its folder, and a clone may sit in a folder of any name.
let eventMesh = String(#filePath.split(separator: "/").dropLast(2).last ?? "main")

let package = Package(
    name: "EventMeshFuzz",
    dependencies: [.package(path: "../")],
    targets: [
        .executableTarget(
            name: "EventWireFuzzer",
            dependencies: [.product(name: "EventWire", package: eventMesh)],
            path: "EventWireFuzzer"
        )
    ]
)
