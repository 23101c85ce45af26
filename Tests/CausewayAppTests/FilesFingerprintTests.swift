import Testing
@testable import CausewayApp

/// The watcher compares the files as they were loaded with the files once its watches are
/// in place: a file written in between (nothing saw it) must show as a difference.
@Suite("FilesFingerprint")
struct FilesFingerprintTests {
    @Test("a loaded configuration's fingerprint changes when a file is added, changed or removed")
    func differences() throws {
        try withTree(["causeway.yaml": proxyYAML("  resources: [ mesh/ ]\n"), "mesh/a.yaml": ""]) { tree in
            let config = try tree.load().get()
            let loaded = try #require(config.fingerprint)
            #expect(FilesFingerprint(config) == loaded)
            try tree.write("mesh/b.yaml", "")
            #expect(FilesFingerprint(config) != loaded, "a new file in a watched folder")
            let withB = FilesFingerprint(config)
            try tree.write("mesh/a.yaml", "# a longer file now\n")
            #expect(FilesFingerprint(config) != withB, "a changed file")
        }
    }

    @Test("a reload's read agrees with the files before it unless a file it read changed meanwhile")
    func agreement() throws {
        try withTree(["causeway.yaml": proxyYAML("  resources: [ mesh/ ]\n"), "mesh/a.yaml": ""]) { tree in
            let config = try tree.load().get()
            let before = FilesFingerprint(config)
            // A file added to the folder (the change being handled) does not count.
            try tree.write("mesh/b.yaml", "")
            let withB = try tree.load().get()
            #expect(before.agrees(with: try #require(withB.fingerprint)))
            // A file rewritten while it was read does.
            try tree.write("mesh/a.yaml", "# written in place, longer now\n")
            #expect(!before.agrees(with: FilesFingerprint(withB)))
        }
    }
}
