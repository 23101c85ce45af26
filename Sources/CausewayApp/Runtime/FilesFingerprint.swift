import Foundation

/// What a configuration's files look like on disk: each file read (and each YAML file in
/// each folder read) with its size and modification time. Taken when the configuration is
/// loaded and again once the watcher's watches are in place; a difference means a file
/// changed in between (before anything watched it), and the watcher reloads once.
struct FilesFingerprint: Equatable, Sendable {
    private let entries: [String: String]

    init(_ config: LoadedConfig) {
        var entries: [String: String] = [:]
        let manager = FileManager.default
        func note(_ path: String) {
            let attributes = try? manager.attributesOfItem(atPath: path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            entries[path] = "\(size)@\(modified)"
        }
        for file in config.files { note(file) }
        for folder in config.folders {
            let names = (try? manager.contentsOfDirectory(atPath: folder)) ?? []
            entries[Self.listing + folder] = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().joined(separator: "/")
            for name in names where name.hasSuffix(".yaml") || name.hasSuffix(".yml") { note(folder + "/" + name) }
        }
        self.entries = entries
    }

    /// Prefix of a folder's listing entry (the files are keyed by their paths).
    private static let listing = "listing:"

    /// True when every file both fingerprints cover looks the same in both. Files only one
    /// of them covers (added to or dropped from the configuration) and folder listings do
    /// not count: they changed before the read, and their event is the one being handled.
    func agrees(with other: FilesFingerprint) -> Bool {
        for (path, entry) in entries where !path.hasPrefix(Self.listing) {
            if let theirs = other.entries[path], theirs != entry { return false }
        }
        return true
    }
}
