import Foundation

/// A temp directory for one test, removed at the end.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("causeway-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `size` pseudo-random bytes (deterministic for a seed) to `name`.
    @discardableResult
    func randomFile(_ name: String, size: Int, seed: UInt64 = 42) throws -> Data {
        var state = seed
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                // splitmix64
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                words[i] = z ^ (z >> 31)
            }
        }
        try data.write(to: url.appendingPathComponent(name))
        return data
    }

    func write(_ name: String, _ text: String) throws {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
    }
}

/// The built `causeway` binary: `$CAUSEWAY_BIN`, else `.build/debug/causeway` of this checkout.
func causewayBinary() throws -> String {
    if let env = ProcessInfo.processInfo.environment["CAUSEWAY_BIN"] { return env }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    for candidate in [".build/debug/causeway", ".build/release/causeway"] {
        let path = root.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw HarnessError("causeway binary not found: run `swift build` first (or set CAUSEWAY_BIN)")
}
