// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Parley",
    products: [
        .library(name: "ParleyCrypto", targets: ["ParleyCrypto"]),
        .library(name: "ParleyProtocol", targets: ["ParleyProtocol"]),
        .library(name: "SignallingCore", targets: ["SignallingCore"]),
        .library(name: "SignallingServer", targets: ["SignallingServer"]),
        .library(name: "Parley", targets: ["Parley"]),
        .library(name: "ParleyTesting", targets: ["ParleyTesting"]),
        .executable(name: "parley-signal", targets: ["ParleySignal"]),
        .executable(name: "parley-bench", targets: ["ParleyBench"]),
        .executable(name: "parley-vectors", targets: ["ParleyVectorTool"]),
        .executable(name: "parley-agent", targets: ["ParleyAgent"]),
        .executable(name: "parley-chat", targets: ["ParleyChat"]),
        .executable(name: "parley-demo", targets: ["ParleyDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian packages (installed by `make deps`).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CNice", pkgConfig: "nice", providers: [.apt(["libnice-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CWebSockets", pkgConfig: "libwebsockets", providers: [.apt(["libwebsockets-dev"])]),
        .target(name: "CParleyShims", dependencies: ["CNice", "CWebSockets"],
                linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto"), .linkedLibrary("ev")]),

        // The crypto core: the only importer of CSodium; no Foundation.
        .target(name: "ParleyCrypto", dependencies: ["CSodium"]),

        // Sans-IO protocol cores: no sockets, no threads, no clock reads.
        .target(name: "ParleyProtocol", dependencies: ["ParleyCrypto"]),
        .target(name: "SignallingCore",
                dependencies: ["ParleyProtocol", "ParleyCrypto", .product(name: "HeapModule", package: "swift-collections")],
                path: "Signalling/SignallingCore"),

        // What the lws server and client share: the lws timer, the service thread, LWS_PRE.
        .target(name: "ParleyLWS", dependencies: ["CWebSockets", "CParleyShims",
                                                  .product(name: "DequeModule", package: "swift-collections"),
                                                  .product(name: "Logging", package: "swift-log")]),

        // parley-signal: the libwebsockets adapter around SignallingCore (a library, so
        // tests run it in process) and the command-line executable.
        .target(
            name: "SignallingServer",
            dependencies: ["SignallingCore", "ParleyProtocol", "ParleyCrypto", "CWebSockets", "CParleyShims", "ParleyLWS",
                           .product(name: "DequeModule", package: "swift-collections"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Prometheus", package: "swift-prometheus")],
            path: "Signalling/SignallingServer/Server"
        ),
        .executableTarget(
            name: "ParleySignal",
            dependencies: ["SignallingServer", "SignallingCore", "ParleyCrypto",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Signalling/SignallingServer/Command"
        ),

        // The client library: signalling client (lws), ICE transport (libnice) and the Call API.
        .target(
            name: "Parley",
            dependencies: ["ParleyProtocol", "ParleyCrypto", "CWebSockets", "CNice", "CParleyShims", "ParleyLWS",
                           .product(name: "DequeModule", package: "swift-collections"),
                           .product(name: "Logging", package: "swift-log")]
        ),

        // Shipped test support: virtual clock, in-memory and malicious relays, lossy links.
        .target(
            name: "ParleyTesting",
            dependencies: ["ParleyProtocol", "ParleyCrypto", "SignallingCore"]
        ),

        // Tools.
        .executableTarget(
            name: "ParleyBench",
            dependencies: ["ParleyCrypto", "ParleyProtocol", "SignallingCore", "SignallingServer", "Parley", "ParleyTesting", "CSodium",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/ParleyBench"
        ),
        // Samples: what a new user runs first. The kit is what they share (options, config files).
        .target(
            name: "ParleySampleKit",
            dependencies: ["Parley", "ParleyProtocol", "ParleyCrypto",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Samples/Shared"
        ),
        .executableTarget(
            name: "ParleyAgent",
            dependencies: ["ParleySampleKit", "Parley", "ParleyProtocol", "ParleyCrypto", "COpus",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Samples/CallAgent",
            exclude: ["README.md", "parley-agent.conf.example"]
        ),
        .executableTarget(
            name: "ParleyChat",
            dependencies: ["ParleySampleKit", "Parley", "ParleyProtocol", "ParleyCrypto",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Samples/TerminalChat",
            exclude: ["README.md", "parley-chat.conf.example"]
        ),
        // `make demo`: parley-signal and two parley-agents in one call, with a report.
        .executableTarget(name: "ParleyDemo", path: "Samples/Demo"),
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
            dependencies: ["ParleyProtocol", "ParleyCrypto", "ParleyTesting"]
        ),
        .testTarget(
            name: "SignallingCoreTests",
            dependencies: ["SignallingCore", "ParleyProtocol", "ParleyCrypto"]
        ),
        // Tests and benchmarks: a raw TLS client socket that can put any bytes on the wire.
        .target(name: "CRawTLS", path: "Tests/CRawTLS",
                linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .testTarget(
            name: "SignallingServerTests",
            dependencies: ["SignallingServer", "SignallingCore", "Parley", "ParleyProtocol", "ParleyCrypto", "ParleyTesting",
                           "CParleyShims", "CWebSockets", "CRawTLS",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ParleyTests",
            dependencies: ["Parley", "ParleyProtocol", "ParleyCrypto"]
        ),
        // libnice over real sockets on loopback (slower than the unit suites).
        .testTarget(
            name: "ParleyIceTests",
            dependencies: ["Parley", "ParleyTesting", "ParleyProtocol", "ParleyCrypto", "CNice",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The samples driven as their users drive them (processes, tmux), against a real server.
        .testTarget(
            name: "SampleTests",
            dependencies: ["ParleySampleKit", "SignallingServer", "Parley", "ParleyProtocol", "ParleyCrypto", "COpus",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "NativeLibrariesTests",
            dependencies: ["CParleyShims", "CNice", "CWebSockets", "CSodium"]
        ),
    ]
)
