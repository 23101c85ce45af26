// swift-tools-version: 6.0
import PackageDescription

/// Hot-path modules are built without dynamic exclusivity checks: nghttp2 callbacks mutate
/// connection state through `Unmanaged` on every frame (see docs/decisions/0003).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "Causeway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "causeway", targets: ["causeway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C: only what Swift cannot import (macros, static inlines, Linux headers).
        .target(name: "CCausewayShims"),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // Engines.
        .target(name: "CausewayBytes", swiftSettings: hotPath),
        .target(name: "CausewayLoop", dependencies: ["CCausewayShims", "CausewayBytes"], swiftSettings: hotPath),
        .target(name: "CausewayHTTP", dependencies: ["CNghttp2", "CausewayBytes"], swiftSettings: hotPath),
        .target(name: "CausewayTLS", dependencies: ["COpenSSL", "CausewayBytes"], swiftSettings: hotPath),

        // Pure policy: no I/O, no C.
        .target(name: "CausewayMesh"),
        // Pure DNS: message codec, virtual IPs, mesh answers (the server is in CausewayApp).
        .target(name: "CausewayDNS", dependencies: ["CausewayMesh"]),

        // Pipelines and application.
        .target(
            name: "CausewayProxy",
            dependencies: ["CausewayLoop", "CausewayHTTP", "CausewayTLS", "CausewayMesh", "CausewayBytes"],
            swiftSettings: hotPath
        ),
        .target(
            name: "CausewayApp",
            dependencies: [
                "CausewayProxy", "CausewayMesh", "CausewayDNS", "CausewayLoop", "CausewayHTTP", "CausewayTLS", "CausewayBytes",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "causeway",
            dependencies: ["CausewayApp", "CausewayTLS", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "CausewayLoopTests", dependencies: ["CausewayLoop", "CausewayBytes"]),
        .testTarget(name: "CausewayHTTPTests", dependencies: ["CausewayHTTP", "CausewayBytes"]),
        .testTarget(name: "CausewayTLSTests", dependencies: ["CausewayTLS", "CausewayBytes"]),
        .testTarget(name: "CausewayMeshTests", dependencies: ["CausewayMesh"]),
        .testTarget(name: "CausewayDNSTests", dependencies: ["CausewayDNS", "CausewayMesh"]),
        .testTarget(name: "CausewayProxyTests", dependencies: ["CausewayProxy", "CausewayHTTP", "CausewayLoop", "CausewayBytes", "CausewayMesh"]),
        .testTarget(name: "CausewayAppTests", dependencies: ["CausewayApp", "CausewayMesh", "CausewayProxy", "CausewayTLS", "CausewayDNS"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["CausewayHTTP", "CausewayTLS", "CausewayBytes", .product(name: "Yams", package: "Yams")],
            exclude: ["Peers"]
        ),
    ]
)
