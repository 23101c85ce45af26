// swift-tools-version: 6.0
// The HTTP/1.1 codec under libFuzzer (bench/README.md, "Fuzzing the HTTP/1.1 parser").
// Not part of the main package or of CI: `make fuzz-http1` or `bench/fuzz/run.sh [seconds]`.
//
// The codec's sources are symlinked from Sources/CausewayHTTP (HTTP1/ and HeaderBlock.swift,
// which are all it uses) rather than imported: the root package exports no library product,
// and this way the fuzzer instruments exactly the files the proxy compiles, without nghttp2.
import PackageDescription

let package = Package(
    name: "CausewayFuzz",
    targets: [
        .target(name: "HTTP1Codec", path: "Sources/HTTP1Codec"),
        // main.swift hands control to libFuzzer's driver (LLVMFuzzerRunDriver): SwiftPM
        // renames an executable's main, so libFuzzer's own main() cannot be used.
        .executableTarget(name: "fuzz-http1", dependencies: ["HTTP1Codec"]),
    ]
)
