import Foundation

/// A file as the user sees it (for messages) and as the process opens it.
struct ConfigFile: Hashable {
    /// As written: the `--config` argument, or a path joined to the directory of the file that
    /// names it, without `.` components. Shown in problems.
    let display: String
    /// Absolute and lexically normalised: used to open the file and to read each file once.
    let absolute: String

    /// A path given on the command line, relative to the working directory.
    init(commandLine path: String, workingDirectory: String) {
        display = ConfigPaths.normalized(path, resolvingParents: false)
        absolute = ConfigPaths.absolute(path, base: workingDirectory)
    }

    /// A path written inside `self`, relative to this file's directory unless absolute.
    func resolve(_ path: String) -> ConfigFile {
        if path.hasPrefix("/") {
            return ConfigFile(display: ConfigPaths.normalized(path, resolvingParents: false), absolute: ConfigPaths.absolute(path, base: "/"))
        }
        return ConfigFile(
            display: ConfigPaths.normalized(ConfigPaths.join(ConfigPaths.directory(of: display), path), resolvingParents: false),
            absolute: ConfigPaths.absolute(path, base: ConfigPaths.directory(of: absolute)))
    }

    /// A file inside this directory.
    func child(_ name: String) -> ConfigFile {
        ConfigFile(display: ConfigPaths.join(display, name), absolute: ConfigPaths.join(absolute, name))
    }

    private init(display: String, absolute: String) {
        self.display = display
        self.absolute = absolute
    }
}

/// Lexical path handling. Symlinks are not resolved: a Kubernetes ConfigMap mount is a tree of
/// symlinks, and messages should show the paths the user wrote.
enum ConfigPaths {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func absolute(_ path: String, base: String) -> String {
        normalized(path.hasPrefix("/") ? path : join(base, path), resolvingParents: true)
    }

    /// Drops empty and `.` components; with `resolvingParents`, also folds `dir/..` (for
    /// absolute paths, where `..` above `/` stays at `/`). Keeps a trailing `/` off.
    static func normalized(_ path: String, resolvingParents: Bool) -> String {
        let isAbsolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if resolvingParents, part == ".." {
                if let last = parts.last, last != ".." { parts.removeLast(); continue }
                if isAbsolute { continue }
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if isAbsolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}

/// What is at a path, as far as loading config cares.
enum FileKind {
    case missing, file, directory, unreadable

    static func of(_ absolutePath: String) -> FileKind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolutePath, isDirectory: &isDirectory) else { return .missing }
        if isDirectory.boolValue { return .directory }
        return FileManager.default.isReadableFile(atPath: absolutePath) ? .file : .unreadable
    }

    /// The `*.yaml` and `*.yml` files directly inside a directory, sorted by name. Hidden
    /// names are skipped: Kubernetes volume mounts keep their bookkeeping in `..data` and such.
    static func yamlFiles(in directory: ConfigFile) -> [ConfigFile]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.absolute) else { return nil }
        return names
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { directory.child($0) }
            .filter { of($0.absolute) != .directory }
    }
}
