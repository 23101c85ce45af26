import CausewayMesh
import Foundation
import Yams

/// Loads and validates a configuration: the config file (or a directory of them) holding
/// exactly one `Proxy`, plus the resource files and folders its `spec.resources` names, which
/// hold EndpointSlices, Links, ServiceExports and the traffic policy kinds (HTTPRoute,
/// DestinationRule, AuthorizationPolicy); these may also sit in the config file.
///
/// Everything is checked before anything is used, and every problem is collected, so a
/// broken config reports all its mistakes at once and a running proxy keeps its snapshot.
public enum ConfigLoader {
    /// Loads the configuration at `path` (a file, or a directory whose `*.yaml`/`*.yml` files
    /// are read in name order), relative to the working directory unless absolute.
    ///
    /// - Throws: `ConfigErrors` with every problem found, sorted by file, line and column.
    public static func load(path: String) throws(ConfigErrors) -> LoadedConfig {
        try load(path: path, workingDirectory: FileManager.default.currentDirectoryPath,
                 defaultWorkers: ProcessorCount.defaultWorkers)
    }

    /// `load(path:)` with the process-wide inputs made explicit, for tests.
    static func load(path: String, workingDirectory: String, defaultWorkers: Int) throws(ConfigErrors) -> LoadedConfig {
        let log = ProblemLog()
        var session = LoadSession(log: log, defaultWorkers: defaultWorkers)
        let entry = ConfigFile(commandLine: path, workingDirectory: workingDirectory)

        // 1. The config file(s): the one place a Proxy may be.
        let configFiles: [ConfigFile]
        switch FileKind.of(entry.absolute) {
        case .file:
            configFiles = [entry]
        case .directory:
            session.noteFolder(entry)
            configFiles = FileKind.yamlFiles(in: entry) ?? []
            if configFiles.isEmpty {
                log.report(file: entry.display, line: 0, column: 0, field: "", "directory has no *.yaml or *.yml files")
            }
        case .missing:
            log.report(file: entry.display, line: 0, column: 0, field: "", "no such file or directory")
            throw ConfigErrors(problems: log.sorted())
        case .unreadable:
            log.report(file: entry.display, line: 0, column: 0, field: "", "file is not readable")
            throw ConfigErrors(problems: log.sorted())
        }
        var configIncomplete = false
        for file in configFiles {
            configIncomplete = !session.readFile(file, proxyAllowed: true) || configIncomplete
        }

        // 2. Exactly one Proxy.
        let proxies = session.proxies
        if proxies.isEmpty, !configIncomplete, !configFiles.isEmpty {
            let file = configFiles.count == 1 ? configFiles[0].display : entry.display
            log.report(file: file, line: 0, column: 0, field: "",
                       "no Proxy document (kind: Proxy, apiVersion: \(ResourceHeader.proxyAPIVersion)); the config needs exactly one")
        }
        for extra in proxies.dropFirst() {
            log.report(file: extra.file.display, at: extra.kindMark, field: "kind",
                       "a second Proxy document; the first is at \(proxies[0].file.display):\(proxies[0].kindMark.map(\.description) ?? "")")
        }

        // 3. The resources the Proxy names, when there is exactly one.
        if proxies.count == 1 {
            session.readResources(of: proxies[0])
        }

        // 4. Checks across documents: Links against the Proxy and each other, then services
        //    from every slice and export, mirrors against the Links, policies defined twice;
        //    and the final snapshot.
        let facts = proxies.count == 1 ? proxies[0].result.facts : nil
        let links = LinkChecks.check(session.links, proxy: facts, log: log)
        let namespace = proxies.count == 1 ? proxies[0].result.config?.namespace ?? "default" : "default"
        let services = ServiceTableBuilder.build(
            slices: session.slices, exports: session.exports, links: links.index, proxy: facts, defaultNamespace: namespace, log: log)
        let policies = PolicyChecks.check(
            routes: session.routes, destinations: session.destinationRules, authorizations: session.authorizationPolicies, log: log)
        guard log.isEmpty, proxies.count == 1, let proxy = proxies[0].result.config else {
            // Every path that rejects a document reports why; this guard only restates it.
            assert(!log.isEmpty, "a rejected config must have reported a problem")
            throw ConfigErrors(problems: log.sorted())
        }
        var loaded = LoadedConfig(
            proxy: proxy, services: services.table, files: session.filesRead.map(\.absolute),
            folders: session.foldersRead.map(\.absolute), links: links.links,
            exports: services.exports, policies: policies.policies, routeParentRefs: policies.routeParentRefs)
        loaded.fingerprint = FilesFingerprint(loaded)
        return loaded
    }
}

/// The state of one load: files read so far and what they held.
private struct LoadSession {
    struct FoundProxy {
        let file: ConfigFile
        let kindMark: Yams.Mark?
        let result: ProxyDocument.Result
    }

    let log: ProblemLog
    let defaultWorkers: Int
    private(set) var filesRead: [ConfigFile] = []
    /// Folders whose YAML files were read, each once.
    private(set) var foldersRead: [ConfigFile] = []
    private var absolutePathsRead: Set<String> = []
    private(set) var proxies: [FoundProxy] = []
    private(set) var slices: [EndpointSliceDocument.Slice] = []
    private(set) var links: [LinkDocument.Draft] = []
    private(set) var exports: [ServiceExportDocument.Export] = []
    private(set) var routes: [HTTPRouteDocument.Draft] = []
    private(set) var destinationRules: [DestinationRuleDocument.Draft] = []
    private(set) var authorizationPolicies: [AuthorizationPolicyDocument.Draft] = []

    init(log: ProblemLog, defaultWorkers: Int) {
        self.log = log
        self.defaultWorkers = defaultWorkers
    }

    /// Reads every document of `file` once (a folder listed in resources may contain the
    /// config file itself). Returns false when the file could not be read to its end.
    mutating func readFile(_ file: ConfigFile, proxyAllowed: Bool) -> Bool {
        guard absolutePathsRead.insert(file.absolute).inserted else { return true }
        filesRead.append(file)
        let parsed = YAMLDocuments.read(file, log: log)
        let reader = NodeReader(file: file.display, log: log)
        for root in parsed.documents {
            guard let header = ResourceHeader.read(root, reader: reader) else { continue }
            switch header.kind {
            case .proxy:
                guard proxyAllowed else {
                    reader.report(at: header.kindMark, FieldPath.root.key("kind"),
                                  "a Proxy belongs in the config file, not in a resource file")
                    continue
                }
                let result = header.served
                    ? ProxyDocument.read(root, file: file, reader: reader, defaultWorkers: defaultWorkers)
                    : ProxyDocument.Result(config: nil, resources: [])
                proxies.append(FoundProxy(file: file, kindMark: header.kindMark, result: result))
            case .endpointSlice:
                guard header.served else { continue }
                if let slice = EndpointSliceDocument.read(root, reader: reader) { slices.append(slice) }
            case .link:
                guard header.served else { continue }
                if let link = LinkDocument.read(root, reader: reader) { links.append(link) }
            case .serviceExport:
                guard header.served else { continue }
                if let export = ServiceExportDocument.read(root, reader: reader) { exports.append(export) }
            case .httpRoute:
                guard header.served else { continue }
                if let route = HTTPRouteDocument.read(root, reader: reader) { routes.append(route) }
            case .destinationRule:
                guard header.served else { continue }
                if let rule = DestinationRuleDocument.read(root, reader: reader) { destinationRules.append(rule) }
            case .authorizationPolicy:
                guard header.served else { continue }
                if let policy = AuthorizationPolicyDocument.read(root, reader: reader) { authorizationPolicies.append(policy) }
            }
        }
        return !parsed.incomplete
    }

    /// Remembers a folder whose YAML files belong to the config (watched for new ones).
    mutating func noteFolder(_ folder: ConfigFile) {
        if !foldersRead.contains(where: { $0.absolute == folder.absolute }) { foldersRead.append(folder) }
    }

    /// Reads the files and folders in `spec.resources`, relative to the Proxy's file.
    mutating func readResources(of proxy: FoundProxy) {
        let reader = NodeReader(file: proxy.file.display, log: log)
        for reference in proxy.result.resources {
            let target = proxy.file.resolve(reference.path)
            switch FileKind.of(target.absolute) {
            case .file:
                _ = readFile(target, proxyAllowed: false)
            case .directory:
                noteFolder(target)
                guard let files = FileKind.yamlFiles(in: target) else {
                    reader.report(at: reference.mark, reference.field, "cannot list directory \(target.display)")
                    continue
                }
                for file in files { _ = readFile(file, proxyAllowed: false) }
            case .missing:
                reader.report(at: reference.mark, reference.field, "\(target.display): no such file or directory")
            case .unreadable:
                reader.report(at: reference.mark, reference.field, "\(target.display) is not readable")
            }
        }
    }
}
