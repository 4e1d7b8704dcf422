// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Parley",
    products: [
        .library(name: "ParleyCrypto", targets: ["ParleyCrypto"]),
        .library(name: "ParleyProtocol", targets: ["ParleyProtocol"]),
        .library(name: "SignallingCore", targets: ["SignallingCore"]),
        .executable(name: "parley-bench", targets: ["ParleyBench"]),
        .executable(name: "parley-vectors", targets: ["ParleyVectorTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // C libraries from Debian packages (installed by `make deps`).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CNice", pkgConfig: "nice", providers: [.apt(["libnice-dev"])]),
        .systemLibrary(name: "CWebSockets", pkgConfig: "libwebsockets", providers: [.apt(["libwebsockets-dev"])]),
        .target(name: "CParleyShims", dependencies: ["CNice", "CWebSockets"],
                linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),

        // The crypto core: the only importer of CSodium; no Foundation.
        .target(name: "ParleyCrypto", dependencies: ["CSodium"]),

        // Sans-IO protocol cores: no sockets, no threads, no clock reads.
        .target(name: "ParleyProtocol", dependencies: ["ParleyCrypto"]),
        .target(name: "SignallingCore",
                dependencies: ["ParleyProtocol", "ParleyCrypto", .product(name: "HeapModule", package: "swift-collections")],
                path: "Signalling/SignallingCore"),

        // Tools.
        .executableTarget(
            name: "ParleyBench",
            dependencies: ["ParleyCrypto", "ParleyProtocol", "SignallingCore", "CSodium",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/ParleyBench"
        ),
        .executableTarget(
            name: "ParleyVectorTool",
            dependencies: ["ParleyCrypto"],
            path: "Sources/ParleyVectorTool"
        ),

        .testTarget(
            name: "ParleyCryptoTests",
            dependencies: ["ParleyCrypto"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "ParleyProtocolTests",
            dependencies: ["ParleyProtocol", "ParleyCrypto"]
        ),
        .testTarget(
            name: "SignallingCoreTests",
            dependencies: ["SignallingCore", "ParleyProtocol", "ParleyCrypto"]
        ),
        .testTarget(
            name: "NativeLibrariesTests",
            dependencies: ["CParleyShims", "CNice", "CWebSockets", "CSodium"]
        ),
    ]
)
