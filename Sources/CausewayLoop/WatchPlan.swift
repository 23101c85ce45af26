/// Which directories to watch for a set of files and folders, and which names in each
/// matter. Pure path arithmetic; `FileWatcher` does the system calls.
///
/// Files are watched through their *parent directory*, because editors, `causeway certs`
/// and Kubernetes replace a file by renaming another over it (a watch on the file itself
/// would follow the old inode away). A folder is watched itself (its `*.yaml`/`*.yml`
/// files come and go) and through its parent (the folder itself may be replaced).
/// Kubernetes ConfigMap and Secret volumes update by swapping a `..data` symlink in the
/// mounted directory, so `..data` matters wherever something is watched.
public enum WatchPlan {
    /// The name Kubernetes' atomic writer swaps to publish a new version of a volume.
    public static let kubernetesDataLink = "..data"

    /// What matters in one watched directory.
    public struct Interest: Sendable, Equatable {
        /// Names in the directory that matter, each with the watched path it is reported as.
        public var names: [String: String] = [:]
        /// Set when the directory is itself a watched folder: its YAML files (not hidden),
        /// reported by their own path, and `..data`, reported as the folder, matter.
        public var folder: String?

        public init(names: [String: String] = [:], folder: String? = nil) {
            self.names = names
            self.folder = folder
        }

        /// The watched path an event on `name` is reported as, or nil when the name does
        /// not matter. `isDirectory`: the event is about a subdirectory (inotify's
        /// `IN_ISDIR`), which only matters when it is a watched name itself.
        public func reportedPath(for name: String, isDirectory: Bool) -> String? {
            if let path = names[name] { return path }
            guard let folder, !isDirectory else { return nil }
            if name == WatchPlan.kubernetesDataLink { return folder }
            if WatchPlan.isConfigFileName(name) { return folder.hasSuffix("/") ? folder + name : folder + "/" + name }
            return nil
        }

        /// Every path this directory stands for (when the directory itself goes away).
        public var allPaths: [String] {
            var paths = Set(names.values)
            if let folder { paths.insert(folder) }
            return paths.sorted()
        }
    }

    /// The directories to watch for `files` and `folders` (absolute, normalised paths),
    /// by directory path.
    ///
    /// - Parameter aliases: extra (watched path, reported path) pairs: a file seen through a
    ///   symlink is also watched where the link points, reported under its own path.
    public static func directories(files: [String], folders: [String], aliases: [(path: String, reportedAs: String)] = []) -> [String: Interest] {
        var plan: [String: Interest] = [:]
        func add(file path: String, reportedAs reported: String) {
            let (directory, name) = split(path)
            guard !name.isEmpty else { return }
            plan[directory, default: Interest()].names[name] = reported
            if plan[directory]?.names[kubernetesDataLink] == nil {
                plan[directory]?.names[kubernetesDataLink] = reported
            }
        }
        for file in files { add(file: file, reportedAs: file) }
        for alias in aliases { add(file: alias.path, reportedAs: alias.reportedAs) }
        for folder in folders {
            plan[folder, default: Interest()].folder = folder
            // The folder's own name in its parent: a folder replaced by rename or deleted.
            let (parent, name) = split(folder)
            if !name.isEmpty { plan[parent, default: Interest()].names[name] = folder }
        }
        return plan
    }

    /// True for the names the config loader reads from a folder: `*.yaml` and `*.yml`,
    /// not hidden (editors' swap and backup files are hidden or end otherwise).
    public static func isConfigFileName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }

    /// `/a/b/c` → (`/a/b`, `c`); `/c` → (`/`, `c`).
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let name = String(path[path.index(after: slash)...])
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        return (directory, name)
    }
}
