import CausewayMesh
import CausewayTLS
import Yams

/// Validates a `Link` (`causeway.dev/v1alpha1`): a remote cluster, its gateway addresses and
/// the SPIFFE ID its gateway must present.
///
/// This reads one document alone. What needs the Proxy or the other Links (the cluster is
/// not the proxy's own and is linked once, the identity is in the proxy's trust domain, the
/// Proxy has TLS) is checked by `LinkChecks` once every file is read.
enum LinkDocument {
    /// What one Link document held. Fields are nil when they had problems (reported); the
    /// valid ones still serve the checks across documents, so a mirrored slice of a Link with
    /// a bad gateway address does not also read as "no Link".
    struct Draft {
        /// The file, as shown in problems.
        let file: String
        /// `metadata.name`, and where it is (where other problems point at this Link).
        let name: String?
        let nameMark: Mark?
        /// `spec.cluster` and where it is.
        let cluster: String?
        let clusterMark: Mark?
        /// `spec.identity`, as the TLS handshake parses it (the trust domain is checked by
        /// `LinkChecks`).
        let identity: SPIFFEID?
        let identityMark: Mark?
        /// `spec.gateways` and `spec.probe`; set only when the whole document is valid.
        let gateways: [SocketAddressSpec]?
        let probe: LinkProbe?

        /// The Link's `LinkConfig`, when every field is valid.
        var config: LinkConfig? {
            guard let name, let cluster, let identity, let gateways, let probe else { return nil }
            return LinkConfig(name: name, cluster: cluster, gateways: gateways, identity: identity.description, probe: probe)
        }
    }

    /// `spec.probe.period`, ms: fast enough for tests, slow enough to be cheap.
    static let probePeriodRange = 100...3_600_000
    /// `spec.probe.timeout`, ms; also at most the period.
    static let probeTimeoutRange = 10...60_000
    static let probeFailureThresholdRange = 1...100

    /// Reads one Link document, reporting its own problems. Nil when the document's shape is
    /// too broken to say which cluster it links (no `spec` mapping).
    static func read(_ root: Node, reader: NodeReader) -> Draft? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata", "spec"]) else {
            return nil
        }
        let metadata = top["metadata"].flatMap { ObjectMetadata.read($0, top.field("metadata"), reader: reader) }
        guard let specNode = top["spec"],
              let spec = reader.fields(specNode, top.field("spec"), allowed: ["cluster", "gateways", "identity", "probe"],
                                       required: ["cluster", "gateways", "identity"])
        else { return nil }

        let cluster = spec["cluster"].flatMap {
            ObjectMetadata.validated($0, spec.field("cluster"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
        }
        let gateways = spec["gateways"].flatMap { readGateways($0, spec.field("gateways"), reader: reader) }
        let identity = spec["identity"].flatMap { readIdentity($0, spec.field("identity"), reader: reader) }
        let probe = spec["probe"].map { readProbe($0, spec.field("probe"), reader: reader) } ?? LinkProbe()

        let complete = reader.log.count == problemsBefore
        return Draft(
            file: reader.file, name: metadata?.name, nameMark: metadata?.nameMark ?? root.mark,
            cluster: cluster, clusterMark: spec["cluster"]?.mark,
            identity: identity, identityMark: spec["identity"]?.mark,
            gateways: complete ? gateways : nil, probe: complete ? probe : nil)
    }

    /// A SPIFFE ID in the syntax of the standard; the trust domain is checked later, against
    /// the Proxy's.
    static func readIdentity(_ node: Node, _ path: FieldPath, reader: NodeReader) -> SPIFFEID? {
        guard let text = reader.string(node, path) else { return nil }
        do {
            return try SPIFFEID(parsing: text)
        } catch {
            reader.report(node, path, notASPIFFEID(text, error))
            return nil
        }
    }

    /// The problem for a text the handshake's parser refuses (`CausewayTLS.SPIFFEID`): the
    /// config accepts exactly the IDs a peer certificate may carry, so a Link can never name
    /// an identity no gateway could present.
    static func notASPIFFEID(_ text: String, _ error: SPIFFEIDError) -> String {
        "\"\(text)\" is not a SPIFFE ID: \(error)"
    }

    /// At least one address; each an IP literal and port that can be connected to, listed once.
    private static func readGateways(_ node: Node, _ path: FieldPath, reader: NodeReader) -> [SocketAddressSpec]? {
        guard let items = reader.list(node, path) else { return nil }
        guard !items.isEmpty else {
            reader.report(node, path, "at least one gateway address is required, e.g. \"10.0.2.10:15443\"")
            return nil
        }
        var gateways: [SocketAddressSpec] = []
        var firstAt: [SocketAddressSpec: FieldPath] = [:]
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let address = ProxyDocument.socketAddress(item, itemPath, reader: reader) else {
                complete = false
                continue
            }
            if address.port == 0 {
                reader.report(item, itemPath, "port 0 cannot be connected to; give the port the remote gateway listens on, e.g. 15443")
                complete = false
            } else if address.host == "0.0.0.0" || address.host == "::" {
                reader.report(item, itemPath, "\(address.host) is a wildcard address; give an address of the remote gateway")
                complete = false
            } else if let first = firstAt[address] {
                reader.report(item, itemPath, "address \(address) is already listed at \(first)")
                complete = false
            } else {
                firstAt[address] = itemPath
                gateways.append(address)
            }
        }
        return complete ? gateways : nil
    }

    private static func readProbe(_ node: Node, _ path: FieldPath, reader: NodeReader) -> LinkProbe? {
        guard let fields = reader.fields(node, path, allowed: ["period", "failureThreshold", "timeout"]) else { return nil }
        var probe = LinkProbe()
        var ok = true
        if let node = fields["period"] {
            if let v = reader.durationMillis(node, fields.field("period"), in: probePeriodRange) { probe.periodMillis = v } else { ok = false }
        }
        if let node = fields["timeout"] {
            if let v = reader.durationMillis(node, fields.field("timeout"), in: probeTimeoutRange) { probe.timeoutMillis = v } else { ok = false }
        }
        if let node = fields["failureThreshold"] {
            if let v = reader.integer(node, fields.field("failureThreshold"), in: probeFailureThresholdRange) {
                probe.failureThreshold = v
            } else { ok = false }
        }
        // A probe still waiting when the next one is due would overlap it.
        if ok, probe.timeoutMillis > probe.periodMillis {
            reader.report(fields["timeout"] ?? node, fields.field("timeout"),
                          "\(DurationText.format(probe.timeoutMillis)) is longer than the probe period "
                              + "\(DurationText.format(probe.periodMillis)); a probe must time out before the next is due")
            ok = false
        }
        return ok ? probe : nil
    }
}

/// The checks on Links that need the Proxy or the other Links, and the final list.
enum LinkChecks {
    /// The Links by cluster, for the checks on mirrored slices: every Link whose cluster was
    /// readable, valid or not, so its slices are not reported again as unlinked.
    typealias Index = [String: LinkDocument.Draft]

    /// Reports duplicate clusters, a Link to the proxy's own cluster, identities outside the
    /// proxy's trust domain, and Links in a config whose Proxy has no `spec.tls`.
    ///
    /// - Parameter proxy: nil when there is not exactly one readable Proxy; the checks that
    ///   need it are then skipped (the missing or extra Proxy is reported elsewhere).
    /// - Returns: the valid Links sorted by cluster, and the index.
    static func check(_ drafts: [LinkDocument.Draft], proxy: ProxyDocument.Facts?, log: ProblemLog) -> (links: [LinkConfig], index: Index) {
        var index: Index = [:]
        var links: [LinkConfig] = []
        for draft in drafts {
            var ok = true
            if let cluster = draft.cluster {
                if let first = index[cluster] {
                    log.report(file: draft.file, at: draft.clusterMark, field: "spec.cluster",
                               "cluster \(cluster) already has a Link, \(first.name ?? "?") at \(problemLocation(first.file, first.nameMark)); "
                                   + "list all its gateways in that one")
                    ok = false
                } else if let own = proxy?.cluster, own == cluster {
                    log.report(file: draft.file, at: draft.clusterMark, field: "spec.cluster",
                               "\"\(cluster)\" is this proxy's own cluster (spec.cluster of the Proxy); a Link names another cluster")
                    ok = false
                    index[cluster] = draft
                } else {
                    index[cluster] = draft
                }
            }
            if let identity = draft.identity, let trustDomain = proxy?.trustDomain, identity.trustDomain.name != trustDomain {
                log.report(file: draft.file, at: draft.identityMark, field: "spec.identity",
                           trustDomainMismatch(identity, trustDomain: trustDomain, isDefault: proxy?.trustDomainIsDefault ?? false))
                ok = false
            }
            if ok, let link = draft.config { links.append(link) }
        }
        if let proxy, proxy.tlsMissing, let first = drafts.first {
            log.report(file: proxy.file, at: proxy.specMark, field: "spec.tls",
                       "required field is missing: Link \(first.name ?? first.cluster ?? "?") at \(problemLocation(first.file, first.nameMark)) "
                           + "connects to its gateways over mTLS")
        }
        links.sort { $0.cluster.utf8.lexicographicallyPrecedes($1.cluster.utf8) }
        return (links, index)
    }

    /// "trust domain X is not this proxy's trust domain Y", saying where Y comes from.
    static func trustDomainMismatch(_ identity: SPIFFEID, trustDomain: String, isDefault: Bool) -> String {
        let source = isDefault ? "the default, as the Proxy sets no spec.trustDomain" : "spec.trustDomain of the Proxy"
        return "\"\(identity)\" is in trust domain \"\(identity.trustDomain)\", not this proxy's \"\(trustDomain)\" (\(source))"
    }
}
