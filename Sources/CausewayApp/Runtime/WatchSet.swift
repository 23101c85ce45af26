/// What a running proxy watches for a configuration: every file it read (the config,
/// resource files and the YAML files of folders), every folder it read (new files
/// there belong to the config), and the three TLS files. Empty when `spec.watch` is false.
struct WatchSet: Equatable {
    /// Absolute paths of watched files, sorted.
    let files: [String]
    /// Absolute paths of watched folders, sorted.
    let folders: [String]

    init(_ config: LoadedConfig) {
        guard config.proxy.watch else {
            files = []
            folders = []
            return
        }
        var files = Set(config.files)
        if let tls = config.proxy.tls {
            files.formUnion([tls.trustBundle, tls.certificateChain, tls.privateKey])
        }
        self.files = files.sorted()
        self.folders = Set(config.folders).sorted()
    }

    var isEmpty: Bool { files.isEmpty && folders.isEmpty }
}
