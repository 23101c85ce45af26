import CausewayHTTP
import CausewayMesh
import CausewayProxy
import Yams

/// Validates a `Proxy` document (`causeway.dev/v1alpha1`) into a `ProxyConfig`.
///
/// The `resources` list is returned even when other fields have problems, so the loader can
/// still read those files and report their problems in the same run.
enum ProxyDocument {
    /// An entry of `spec.resources`, with where it was written.
    struct ResourceReference {
        let path: String
        let mark: Mark?
        let field: FieldPath
    }

    /// What checks across documents (Links, mirrored slices) need from the Proxy, known even
    /// when other fields of the Proxy have problems, so those checks still run.
    struct Facts {
        /// The Proxy's file, as shown in problems.
        let file: String
        /// Position of the `spec` mapping, where a missing `spec.tls` is reported.
        let specMark: Mark?
        /// `spec.cluster`; nil when it is invalid (already reported).
        let cluster: String?
        /// `spec.trustDomain` or its default; nil when it is invalid (already reported).
        let trustDomain: String?
        /// True when `spec.trustDomain` is absent, so the default applies (a hint in problems).
        let trustDomainIsDefault: Bool
        /// True when `spec.tls` is absent. A `tls` that is present but has problems counts as
        /// present, so "TLS is required" is not reported on top of those problems.
        let tlsMissing: Bool
    }

    struct Result {
        /// Nil when the document had problems.
        let config: ProxyConfig?
        let resources: [ResourceReference]
        /// Nil when the document's `spec` could not be read at all.
        let facts: Facts?

        init(config: ProxyConfig?, resources: [ResourceReference], facts: Facts? = nil) {
            self.config = config
            self.resources = resources
            self.facts = facts
        }
    }

    /// The default `spec.trustDomain`: Kubernetes' default cluster domain, which is also what
    /// Istio uses as its default trust domain.
    static let defaultTrustDomain = "cluster.local"

    static let defaultAdmin = SocketAddressSpec("127.0.0.1:15000")!

    /// - Parameters:
    ///   - file: the file holding the document; TLS paths resolve against its directory.
    ///   - defaultWorkers: used when `spec.workers` is absent (the number of online CPUs).
    static func read(_ root: Node, file: ConfigFile, reader: NodeReader, defaultWorkers: Int) -> Result {
        let problemsBefore = reader.log.count
        var resources: [ResourceReference] = []
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata", "spec"]) else {
            return Result(config: nil, resources: [])
        }
        let proxyName = top["metadata"].flatMap { metadataName($0, top.field("metadata"), reader: reader) }
        guard let specNode = top["spec"],
              let spec = reader.fields(specNode, top.field("spec"), allowed: [
                  "cluster", "trustDomain", "namespace", "workers", "tls", "listeners", "admin", "http2", "upstream", "timeouts",
                  "limits", "resources", "mirror", "watch", "upstreamClusterHeader", "dns", "capture",
              ], required: ["cluster", "listeners"])
        else {
            return Result(config: nil, resources: [])
        }

        let cluster = spec["cluster"].flatMap { node in
            validatedName(node, spec.field("cluster"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
        }
        // For optional fields, `.map { ... } ?? default` yields the default when the field is
        // absent and nil (reported) when it is present but invalid.
        let trustDomain = spec["trustDomain"].map { node in
            validatedName(node, spec.field("trustDomain"), reader: reader, valid: NameRules.isTrustDomain, rule: NameRules.trustDomainRule)
        } ?? defaultTrustDomain
        let namespace = spec["namespace"].map { node in
            validatedName(node, spec.field("namespace"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
        } ?? "default"
        let workers = spec["workers"].map { reader.integer($0, spec.field("workers"), in: 1...256) } ?? defaultWorkers
        let tls = spec["tls"].flatMap { readTLS($0, spec.field("tls"), file: file, reader: reader) }
        let tlsMissing = spec["tls"] == nil
        let listenerResult = spec["listeners"].map {
            readListeners($0, spec.field("listeners"), tlsMissing: tlsMissing, reader: reader)
        }
        var admin: SocketAddressSpec? = defaultAdmin
        var adminMark: Mark? = spec.keyMark("admin")
        if let node = spec["admin"] {
            (admin, adminMark) = readAdmin(node, spec.field("admin"), reader: reader)
        }
        let http2 = spec["http2"].map { readHTTP2($0, spec.field("http2"), reader: reader) } ?? H2Settings()
        let upstream = spec["upstream"].map { readUpstream($0, spec.field("upstream"), reader: reader) } ?? UpstreamSettings()
        let timeouts = spec["timeouts"].map { readTimeouts($0, spec.field("timeouts"), reader: reader) } ?? ProxyTimeouts()
        let limits = spec["limits"].map { readLimits($0, spec.field("limits"), reader: reader) } ?? ProxyLimits()
        let mirror = spec["mirror"].map { readMirror($0, spec.field("mirror"), reader: reader) } ?? MirrorConfig()
        let watch = spec["watch"].map { reader.bool($0, spec.field("watch")) } ?? true
        let upstreamClusterHeader = spec["upstreamClusterHeader"].map { reader.bool($0, spec.field("upstreamClusterHeader")) } ?? true
        // Outer nil: no DNS server; inner nil: a `dns` section with problems (reported).
        let dns = spec["dns"].map { DNSDocument.read($0, spec.field("dns"), file: file, reader: reader) }
        if let node = spec["resources"], let entries = reader.list(node, spec.field("resources")) {
            for (i, entry) in entries.enumerated() {
                let path = spec.field("resources").index(i)
                if let text = reader.string(entry, path) {
                    resources.append(ResourceReference(path: text, mark: entry.mark, field: path))
                }
            }
        }

        let capture = spec["capture"].map { node in
            CaptureSection.read(node, spec.field("capture"), listeners: listenerResult?.complete == true ? listenerResult?.drafts.map(\.config) : nil,
                                reader: reader)
        } ?? CaptureConfig()
        if let admin {
            checkAddressConflicts(
                listeners: listenerResult?.drafts ?? [], admin: (admin, adminMark, spec.field("admin").key("address")),
                dns: dns.flatMap { $0 }.map { ($0.address, Self.dnsAddressMark(spec["dns"]), spec.field("dns").key("address")) },
                reader: reader)
        }
        let listeners = listenerResult?.complete == true ? listenerResult?.drafts : nil
        let facts = Facts(
            file: reader.file, specMark: specNode.mark, cluster: cluster, trustDomain: trustDomain,
            trustDomainIsDefault: spec["trustDomain"] == nil, tlsMissing: tlsMissing)

        guard reader.log.count == problemsBefore, let proxyName, let cluster, let trustDomain, let namespace, let workers,
              let listeners, let admin, let http2, let upstream, let timeouts, let limits, let mirror, let watch,
              let upstreamClusterHeader, let capture
        else {
            return Result(config: nil, resources: resources, facts: facts)
        }
        var config = ProxyConfig(
            name: proxyName, cluster: cluster, trustDomain: trustDomain, namespace: namespace, workers: workers,
            listeners: listeners.map(\.config), admin: admin, tls: tls, http2: http2, upstream: upstream,
            timeouts: timeouts, limits: limits, mirror: mirror, watch: watch, upstreamClusterHeader: upstreamClusterHeader,
            dns: dns ?? nil)
        config.capture = capture
        return Result(config: config, resources: resources, facts: facts)
    }

    /// `metadata` of a Proxy: a required DNS-subdomain `name`, optional labels and annotations.
    private static func metadataName(_ node: Node, _ path: FieldPath, reader: NodeReader) -> String? {
        guard let metadata = reader.fields(node, path, allowed: ["name", "labels", "annotations"], required: ["name"]) else {
            return nil
        }
        if let labels = metadata["labels"] { _ = reader.stringMap(labels, metadata.field("labels")) }
        if let annotations = metadata["annotations"] { _ = reader.stringMap(annotations, metadata.field("annotations")) }
        return metadata["name"].flatMap {
            validatedName($0, metadata.field("name"), reader: reader, valid: NameRules.isDNSSubdomain, rule: NameRules.subdomainRule)
        }
    }

    private static func validatedName(
        _ node: Node, _ path: FieldPath, reader: NodeReader, valid: (String) -> Bool, rule: String
    ) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard valid(text) else {
            reader.report(node, path, "\"\(text)\" \(rule)")
            return nil
        }
        return text
    }

    // MARK: Listeners

    fileprivate struct ListenerDraft {
        let config: ListenerConfig
        let path: FieldPath
        let addressMark: Mark?
    }

    /// The listeners that are valid, and whether all of them were. A gateway listener needs
    /// `spec.tls`; when it is absent (`tlsMissing`), that is reported at the listener's role.
    private static func readListeners(
        _ node: Node, _ path: FieldPath, tlsMissing: Bool, reader: NodeReader
    ) -> (drafts: [ListenerDraft], complete: Bool) {
        guard let items = reader.list(node, path) else { return ([], false) }
        if items.isEmpty {
            reader.report(node, path, "at least one listener is required")
            return ([], false)
        }
        var drafts: [ListenerDraft] = []
        var firstByName: [String: FieldPath] = [:]
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: ["name", "role", "address", "accessLog"],
                                            required: ["name", "role", "address"]) else {
                complete = false
                continue
            }
            var listenerName: String?
            if let node = fields["name"] {
                listenerName = validatedName(node, fields.field("name"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
                if let n = listenerName {
                    if let first = firstByName[n] {
                        // Still kept as a draft, so its address is checked for conflicts too.
                        reader.report(node, fields.field("name"), "listener name \"\(n)\" is already used by \(first)")
                        complete = false
                    } else {
                        firstByName[n] = itemPath
                    }
                }
            }
            let role = fields["role"].flatMap { readRole($0, fields.field("role"), reader: reader) }
            if role == .gateway, tlsMissing {
                reader.report(fields["role"], fields.field("role"),
                              "a gateway listener accepts only mTLS from other clusters, so spec.tls is required")
                complete = false
            }
            let address = fields["address"].flatMap { socketAddress($0, fields.field("address"), reader: reader) }
            let accessLog = fields["accessLog"].map { reader.bool($0, fields.field("accessLog")) } ?? false
            guard let listenerName, let role, let address else {
                complete = false
                continue
            }
            // A bad accessLog leaves the draft in, so the address is still checked for conflicts.
            if accessLog == nil { complete = false }
            drafts.append(ListenerDraft(
                config: ListenerConfig(name: listenerName, role: role, address: address, accessLog: accessLog ?? false),
                path: itemPath, addressMark: fields["address"]?.mark))
        }
        return (drafts, complete)
    }

    private static func readRole(_ node: Node, _ path: FieldPath, reader: NodeReader) -> TrafficRole? {
        guard let text = reader.string(node, path) else { return nil }
        guard let role = TrafficRole(configName: text) else {
            reader.report(node, path, "unknown role \"\(text)\"; expected sidecar or gateway")
            return nil
        }
        return role
    }

    static func socketAddress(_ node: Node, _ path: FieldPath, reader: NodeReader) -> SocketAddressSpec? {
        guard let text = reader.string(node, path) else { return nil }
        do {
            return try SocketAddressSpec(parsing: text)
        } catch {
            reader.report(node, path, error.message)
            return nil
        }
    }

    private static func readAdmin(_ node: Node, _ path: FieldPath, reader: NodeReader) -> (SocketAddressSpec?, Mark?) {
        guard let fields = reader.fields(node, path, allowed: ["address"]) else { return (nil, nil) }
        guard let address = fields["address"] else { return (defaultAdmin, node.mark) }
        return (socketAddress(address, fields.field("address"), reader: reader), address.mark)
    }

    /// Two sockets conflict on the same port when their hosts are equal or either is the
    /// wildcard (`0.0.0.0`, `::`): with SO_REUSEPORT both binds could even succeed and split
    /// traffic silently. Port 0 never conflicts: the kernel picks a distinct port for each.
    private static func checkAddressConflicts(
        listeners: [ListenerDraft], admin: (SocketAddressSpec, Mark?, FieldPath), dns: (SocketAddressSpec, Mark?, FieldPath)?,
        reader: NodeReader
    ) {
        var taken: [(address: SocketAddressSpec, owner: FieldPath)] = []
        // The DNS server's TCP socket takes its port like any listener.
        let all = listeners.map { ($0.config.address, $0.addressMark, $0.path.key("address"), $0.path) }
            + [(admin.0, admin.1, admin.2, admin.2)] + (dns.map { [($0.0, $0.1, $0.2, $0.2)] } ?? [])
        for (address, mark, field, owner) in all where address.port != 0 {
            if let clash = taken.first(where: { overlaps($0.address, address) }) {
                let relation = clash.address == address ? "is already used by" : "overlaps \(clash.address) of"
                reader.report(at: mark, field, "address \(address) \(relation) \(clash.owner)")
            } else {
                taken.append((address, owner))
            }
        }
    }

    /// Where `spec.dns.address` is written, or the `dns` section when it is not.
    private static func dnsAddressMark(_ node: Node?) -> Mark? {
        guard case .mapping(let mapping)? = node else { return node?.mark }
        for (key, value) in mapping where key.string == "address" { return value.mark }
        return node?.mark
    }

    private static func overlaps(_ a: SocketAddressSpec, _ b: SocketAddressSpec) -> Bool {
        let wildcards: Set<String> = ["0.0.0.0", "::"]
        return a.port == b.port && (a.host == b.host || wildcards.contains(a.host) || wildcards.contains(b.host))
    }

    // MARK: TLS, HTTP/2, upstream, timeouts, limits

    /// `spec.tls.rotationGracePeriod`: 0s (drain at once) or 1 s to 1 h, in milliseconds.
    static let rotationGracePeriodRange = 1_000...3_600_000

    private static func readTLS(_ node: Node, _ path: FieldPath, file: ConfigFile, reader: NodeReader) -> TLSFiles? {
        let names = ["trustBundle", "certificateChain", "privateKey"]
        guard let fields = reader.fields(node, path, allowed: names + ["rotationGracePeriod"], required: names) else { return nil }
        var grace: UInt64? = TLSFiles.defaultRotationGracePeriodNanos
        if let value = fields["rotationGracePeriod"] {
            grace = reader.durationNanos(value, fields.field("rotationGracePeriod"), in: rotationGracePeriodRange, zeroMeansNone: true)
        }
        var resolved: [String: String] = [:]
        for fieldName in names {
            guard let value = fields[fieldName], let text = reader.string(value, fields.field(fieldName)) else { continue }
            let target = file.resolve(text)
            switch FileKind.of(target.absolute) {
            case .file: resolved[fieldName] = target.absolute
            case .missing: reader.report(value, fields.field(fieldName), "file \(target.display) does not exist")
            case .directory: reader.report(value, fields.field(fieldName), "\(target.display) is a directory, not a PEM file")
            case .unreadable: reader.report(value, fields.field(fieldName), "file \(target.display) is not readable")
            }
        }
        guard let trust = resolved["trustBundle"], let chain = resolved["certificateChain"], let key = resolved["privateKey"],
              let grace else {
            return nil
        }
        return TLSFiles(trustBundle: trust, certificateChain: chain, privateKey: key, rotationGracePeriodNanos: grace)
    }

    /// RFC 9113 §6.5.2 / §6.9.1: windows may not exceed 2^31-1; a stream window below the
    /// 65,535 default would only slow every stream down.
    static let windowRange = 65_535...Int(Int32.max)
    static let maxConcurrentStreamsRange = 1...Int(UInt32.max)
    /// Headers are held in memory per stream until forwarded, so their size is bounded.
    static let maxHeaderListSizeRange = 1_024...(16 << 20)
    /// Fields per header block: a request needs at least its four pseudo-headers and a few
    /// more; ten thousand is far beyond any real one.
    static let maxHeaderFieldsRange = 8...10_000

    private static func readHTTP2(_ node: Node, _ path: FieldPath, reader: NodeReader) -> H2Settings? {
        guard let fields = reader.fields(node, path, allowed: [
            "maxConcurrentStreams", "initialStreamWindow", "connectionWindow", "maxHeaderListSize", "maxHeaderFields",
        ]) else { return nil }
        var settings = H2Settings()
        var ok = true
        func read(_ name: String, _ range: ClosedRange<Int>, _ assign: (UInt32) -> Void) {
            guard let node = fields[name] else { return }
            if let value = reader.integer(node, fields.field(name), in: range) { assign(UInt32(value)) } else { ok = false }
        }
        read("maxConcurrentStreams", maxConcurrentStreamsRange) { settings.maxConcurrentStreams = $0 }
        read("initialStreamWindow", windowRange) { settings.initialStreamWindow = $0 }
        read("connectionWindow", windowRange) { settings.connectionWindow = $0 }
        read("maxHeaderListSize", maxHeaderListSizeRange) { settings.maxHeaderListSize = $0 }
        read("maxHeaderFields", maxHeaderFieldsRange) { settings.maxHeaderFields = $0 }
        return ok ? settings : nil
    }

    static let connectTimeoutRange = 1...60_000
    static let idleTimeoutRange = 1_000...86_400_000
    static let maxConnectionsRange = 1...10_000

    private static func readUpstream(_ node: Node, _ path: FieldPath, reader: NodeReader) -> UpstreamSettings? {
        guard let fields = reader.fields(node, path, allowed: ["connectTimeout", "idleTimeout", "maxConnectionsPerEndpoint"]) else {
            return nil
        }
        var settings = UpstreamSettings()
        var ok = true
        if let node = fields["connectTimeout"] {
            if let v = reader.durationNanos(node, fields.field("connectTimeout"), in: connectTimeoutRange) {
                settings.connectTimeoutNanos = v
            } else { ok = false }
        }
        if let node = fields["idleTimeout"] {
            if let v = reader.durationNanos(node, fields.field("idleTimeout"), in: idleTimeoutRange) {
                settings.idleTimeoutNanos = v
            } else { ok = false }
        }
        if let node = fields["maxConnectionsPerEndpoint"] {
            if let v = reader.integer(node, fields.field("maxConnectionsPerEndpoint"), in: maxConnectionsRange) {
                settings.maxConnectionsPerEndpoint = v
            } else { ok = false }
        }
        return ok ? settings : nil
    }

    /// `spec.timeouts` fields: name, where the value goes, range in milliseconds, and whether
    /// `0s` means "none". Absent fields keep `ProxyTimeouts()`'s defaults.
    static let timeoutFields: [(name: String, field: WritableKeyPath<ProxyTimeouts, UInt64> & Sendable, millis: ClosedRange<Int>, zeroMeansNone: Bool)] = [
        ("requestHeaders", \.requestHeadersNanos, 100...300_000, false),
        ("streamIdle", \.streamIdleNanos, 1_000...86_400_000, false),
        ("request", \.requestNanos, 100...86_400_000, true),
        ("drain", \.drainNanos, 1_000...3_600_000, false),
        ("maxConnectionAge", \.maxConnectionAgeNanos, 10_000...(30 * 86_400_000), true),
        ("idle", \.downstreamIdleNanos, 1_000...86_400_000, false),
        ("handshake", \.handshakeNanos, 100...300_000, false),
    ]

    private static func readTimeouts(_ node: Node, _ path: FieldPath, reader: NodeReader) -> ProxyTimeouts? {
        guard let fields = reader.fields(node, path, allowed: timeoutFields.map(\.name)) else { return nil }
        var timeouts = ProxyTimeouts()
        var ok = true
        for spec in timeoutFields {
            guard let node = fields[spec.name] else { continue }
            if let nanos = reader.durationNanos(node, fields.field(spec.name), in: spec.millis, zeroMeansNone: spec.zeroMeansNone) {
                timeouts[keyPath: spec.field] = nanos
            } else { ok = false }
        }
        return ok ? timeouts : nil
    }

    /// `spec.mirror`: heartbeat (the range a subscriber accepts), and the lease times.
    private static func readMirror(_ node: Node, _ path: FieldPath, reader: NodeReader) -> MirrorConfig? {
        guard let fields = reader.fields(node, path, allowed: ["heartbeat", "staleAfter", "removeAfter"]) else { return nil }
        var mirror = MirrorConfig()
        var ok = true
        if let node = fields["heartbeat"] {
            if let v = reader.durationNanos(node, fields.field("heartbeat"), in: MirrorWire.heartbeatRange, zeroMeansNone: false) {
                mirror.stream.heartbeatNanos = v
            } else { ok = false }
        }
        var stale = mirror.lease.staleAfterNanos, remove = mirror.lease.removeAfterNanos
        if let node = fields["staleAfter"] {
            if let v = reader.durationNanos(node, fields.field("staleAfter"), in: 1_000...86_400_000, zeroMeansNone: false) {
                stale = v
            } else { ok = false }
        }
        if let node = fields["removeAfter"] {
            if let v = reader.durationNanos(node, fields.field("removeAfter"), in: 1_000...(7 * 86_400_000), zeroMeansNone: false) {
                remove = v
            } else { ok = false }
        }
        guard ok else { return nil }
        guard remove >= stale else {
            reader.report(fields["removeAfter"] ?? node, fields.field(fields["removeAfter"] != nil ? "removeAfter" : "staleAfter"),
                          "removeAfter (\(remove / 1_000_000) ms) must not be shorter than staleAfter (\(stale / 1_000_000) ms): entries turn stale before they are removed")
            return nil
        }
        mirror.lease = ClusterMirror.LeasePolicy(staleAfterNanos: stale, removeAfterNanos: remove)
        return mirror
    }

    static let maxConnectionsPerWorkerRange = 1...1_000_000
    /// 64 KiB (about the smallest HTTP/2 stream window, 65,535 bytes) to 1 GiB.
    static let maxBufferedResponseBytesRange = (64 << 10)...(1 << 30)

    private static func readLimits(_ node: Node, _ path: FieldPath, reader: NodeReader) -> ProxyLimits? {
        guard let fields = reader.fields(node, path, allowed: ["maxConnectionsPerWorker", "maxBufferedResponseBytesPerConnection"]) else {
            return nil
        }
        var limits = ProxyLimits()
        var ok = true
        if let node = fields["maxConnectionsPerWorker"] {
            if let v = reader.integer(node, fields.field("maxConnectionsPerWorker"), in: maxConnectionsPerWorkerRange) {
                limits.maxDownstreamConnectionsPerWorker = v
            } else { ok = false }
        }
        if let node = fields["maxBufferedResponseBytesPerConnection"] {
            if let v = reader.byteCount(node, fields.field("maxBufferedResponseBytesPerConnection"), in: maxBufferedResponseBytesRange) {
                limits.maxBufferedResponseBytesPerConnection = v
            } else { ok = false }
        }
        return ok ? limits : nil
    }
}
