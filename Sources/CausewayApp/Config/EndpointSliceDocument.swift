import CausewayMesh
import CausewayTLS
import Yams

/// Validates an `EndpointSlice` (`discovery.k8s.io/v1`) as Kubernetes writes it, keeping what
/// the proxy needs: the service it belongs to, its addresses with their port, and readiness.
///
/// A slice labelled `multicluster.kubernetes.io/source-cluster` is a mirror: its endpoints
/// are that cluster's gateway, and the annotation `causeway.dev/gateway-identity` may name the
/// SPIFFE ID to expect there instead of the Link's. This reads one document alone;
/// `ServiceTableBuilder` checks mirrors against the Links.
///
/// Known simplifications: only TCP ports are used (a slice's UDP or SCTP ports are checked and
/// ignored); `addressType: FQDN` is refused; `hints`, `zone`, `nodeName`, `hostname` and
/// `targetRef` are checked for shape and otherwise ignored.
enum EndpointSliceDocument {
    static let serviceNameLabel = "kubernetes.io/service-name"
    static let sourceClusterLabel = "multicluster.kubernetes.io/source-cluster"
    static let gatewayIdentityAnnotation = "causeway.dev/gateway-identity"
    /// appProtocol values that mark the port speaking h2c, preferred over the first port.
    static let h2cProtocols: Set<String> = ["kubernetes.io/h2c", "http2"]

    /// A valid slice, ready to merge into its service.
    struct Slice {
        let name: String
        let namespace: String
        let service: String
        let sourceCluster: String?
        /// The `causeway.dev/gateway-identity` annotation; only on a mirror.
        let gatewayIdentity: SPIFFEID?
        let endpoints: [(address: EndpointAddress, ready: Bool)]
        /// The slice's TCP ports, as declared.
        let ports: [ServicePort]
        /// Where it was defined, for conflicts between slices and checks against Links.
        let file: String
        let nameMark: Mark?
        let labelsMark: Mark?
        let serviceMark: Mark?
        let sourceClusterMark: Mark?
        let gatewayIdentityMark: Mark?
    }

    /// ObjectMeta fields that `kubectl get -o yaml` prints and that mean nothing here; they are
    /// skipped so such output loads unchanged.
    static let ignoredMetadata = ObjectMetadata.ignoredFields

    static func read(_ root: Node, reader: NodeReader) -> Slice? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "addressType", "ports", "endpoints"],
                                      required: ["metadata", "addressType"])
        else { return nil }

        // metadata
        var sliceName: String?, namespace: String? = "default", service: String?, sourceCluster: String?
        var gatewayIdentity: SPIFFEID?
        var nameMark: Mark?, labelsMark: Mark?, serviceMark: Mark?, sourceClusterMark: Mark?, gatewayIdentityMark: Mark?
        if let node = top["metadata"], let metadata = reader.fields(
            node, top.field("metadata"), allowed: ["name", "namespace", "labels", "annotations"], required: ["name", "labels"],
            ignored: ignoredMetadata)
        {
            nameMark = metadata["name"]?.mark
            sliceName = metadata["name"].flatMap {
                checked($0, metadata.field("name"), reader: reader, valid: NameRules.isDNSSubdomain, rule: NameRules.subdomainRule)
            }
            if let node = metadata["namespace"] {
                namespace = checked(node, metadata.field("namespace"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
            }
            var hasSourceClusterLabel = false
            if let node = metadata["labels"], let labels = reader.stringMap(node, metadata.field("labels")) {
                labelsMark = node.mark
                let labelsPath = metadata.field("labels")
                if let label = labels[serviceNameLabel] {
                    serviceMark = label.mark
                    if NameRules.isServiceName(label.value) {
                        service = label.value
                    } else {
                        reader.report(at: label.mark, labelsPath.key(serviceNameLabel), "\"\(label.value)\" \(NameRules.serviceNameRule)")
                    }
                } else {
                    reader.report(at: node.mark, labelsPath.key(serviceNameLabel),
                                  "required label is missing: it names the Service this slice belongs to")
                }
                if let label = labels[sourceClusterLabel] {
                    hasSourceClusterLabel = true
                    sourceClusterMark = label.mark
                    if NameRules.isDNSLabel(label.value) {
                        sourceCluster = label.value
                    } else {
                        reader.report(at: label.mark, labelsPath.key(sourceClusterLabel), "\"\(label.value)\" \(NameRules.dnsLabelRule)")
                    }
                }
            }
            if let node = metadata["annotations"], let annotations = reader.stringMap(node, metadata.field("annotations")),
               let annotation = annotations[gatewayIdentityAnnotation]
            {
                let path = metadata.field("annotations").key(gatewayIdentityAnnotation)
                gatewayIdentityMark = annotation.mark
                if !hasSourceClusterLabel {
                    reader.report(at: annotation.mark, path,
                                  "only a mirrored slice (labelled \(sourceClusterLabel)) names a gateway identity; "
                                      + "a local service's endpoints are not behind a gateway")
                } else {
                    do {
                        gatewayIdentity = try SPIFFEID(parsing: annotation.value)
                    } catch {
                        reader.report(at: annotation.mark, path, LinkDocument.notASPIFFEID(annotation.value, error))
                    }
                }
            }
        }

        let family = top["addressType"].flatMap { readAddressType($0, top.field("addressType"), reader: reader) }
        let port = readPorts(top["ports"], top.field("ports"), reader: reader)
        let endpoints = readEndpoints(top["endpoints"], top.field("endpoints"), family: family, reader: reader)

        if let endpoints, !endpoints.isEmpty, port.complete, port.chosen == nil {
            reader.report(at: top["ports"]?.mark ?? root.mark, top.field("ports"),
                          "a slice with endpoints needs a TCP port to send traffic to")
        }
        guard reader.log.count == problemsBefore, let sliceName, let namespace, let service, let endpoints else { return nil }
        // With endpoints present, a missing port was reported above, so `chosen` is set here
        // whenever an address needs it.
        let addresses = endpoints.flatMap { endpoint in
            endpoint.addresses.map { (EndpointAddress(ip: $0, port: port.chosen ?? 0), endpoint.ready) }
        }
        return Slice(
            name: sliceName, namespace: namespace, service: service, sourceCluster: sourceCluster,
            gatewayIdentity: gatewayIdentity, endpoints: addresses, ports: port.all, file: reader.file, nameMark: nameMark, labelsMark: labelsMark,
            serviceMark: serviceMark, sourceClusterMark: sourceClusterMark, gatewayIdentityMark: gatewayIdentityMark)
    }

    private static func checked(_ node: Node, _ path: FieldPath, reader: NodeReader, valid: (String) -> Bool, rule: String) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard valid(text) else {
            reader.report(node, path, "\"\(text)\" \(rule)")
            return nil
        }
        return text
    }

    private static func readAddressType(_ node: Node, _ path: FieldPath, reader: NodeReader) -> AddressFamily? {
        guard let text = reader.string(node, path) else { return nil }
        switch text {
        case "IPv4": return .ipv4
        case "IPv6": return .ipv6
        case "FQDN":
            reader.report(node, path, "addressType FQDN is not supported; use IPv4 or IPv6")
            return nil
        default:
            reader.report(node, path, "unknown addressType \"\(text)\"; expected IPv4 or IPv6")
            return nil
        }
    }

    /// The port endpoints receive traffic on: the first TCP port whose appProtocol is h2c,
    /// else the first TCP port; and every TCP port. `complete` is false when a port entry had
    /// problems.
    private static func readPorts(_ node: Node?, _ path: FieldPath, reader: NodeReader) -> (chosen: UInt16?, all: [ServicePort], complete: Bool) {
        guard let node else { return (nil, [], true) }
        guard let items = reader.list(node, path) else { return (nil, [], false) }
        var firstTCP: UInt16?, firstH2C: UInt16?
        var all: [ServicePort] = []
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: ["name", "port", "protocol", "appProtocol"], required: ["port"]) else {
                complete = false
                continue
            }
            let name = fields["name"].flatMap { reader.string($0, fields.field("name"), allowEmpty: true) }
            let port = fields["port"].flatMap { reader.integer($0, fields.field("port"), in: 1...65_535) }
            var isTCP = true
            if let node = fields["protocol"], let text = reader.string(node, fields.field("protocol")) {
                switch text {
                case "TCP": isTCP = true
                case "UDP", "SCTP": isTCP = false
                default:
                    reader.report(node, fields.field("protocol"), "unknown protocol \"\(text)\"; expected TCP, UDP or SCTP")
                    complete = false
                }
            }
            let appProtocol = fields["appProtocol"].flatMap { reader.string($0, fields.field("appProtocol")) }
            guard let port else {
                complete = false
                continue
            }
            guard isTCP else { continue }
            all.append(ServicePort(name: name?.isEmpty == false ? name : nil, port: UInt16(port), appProtocol: appProtocol))
            if firstTCP == nil { firstTCP = UInt16(port) }
            if firstH2C == nil, let appProtocol, h2cProtocols.contains(appProtocol) { firstH2C = UInt16(port) }
        }
        return (firstH2C ?? firstTCP, all, complete)
    }

    private struct Endpoint {
        let addresses: [IPAddress]
        let ready: Bool
    }

    /// Kubernetes allows 1...100 addresses per endpoint; they are fungible.
    private static let addressesPerEndpoint = 1...100

    private static func readEndpoints(_ node: Node?, _ path: FieldPath, family: AddressFamily?, reader: NodeReader) -> [Endpoint]? {
        guard let node else { return [] }
        guard let items = reader.list(node, path) else { return nil }
        var endpoints: [Endpoint] = []
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: [
                "addresses", "conditions", "hostname", "nodeName", "zone", "targetRef", "hints",
            ], required: ["addresses"]) else {
                complete = false
                continue
            }
            for name in ["hostname", "nodeName", "zone"] {
                if let value = fields[name] { _ = reader.string(value, fields.field(name)) }
            }
            if let targetRef = fields["targetRef"] { readTargetRef(targetRef, fields.field("targetRef"), reader: reader) }
            if let hints = fields["hints"] { readHints(hints, fields.field("hints"), reader: reader) }
            // Kubernetes: a nil `ready` is interpreted as ready.
            var ready = true
            if let node = fields["conditions"],
               let conditions = reader.fields(node, fields.field("conditions"), allowed: ["ready", "serving", "terminating"])
            {
                if let value = conditions["ready"] { ready = reader.bool(value, conditions.field("ready")) ?? true }
                for name in ["serving", "terminating"] {
                    if let value = conditions[name] { _ = reader.bool(value, conditions.field(name)) }
                }
            }
            guard let addressesNode = fields["addresses"], let addressNodes = reader.list(addressesNode, fields.field("addresses")) else {
                complete = false
                continue
            }
            if !addressesPerEndpoint.contains(addressNodes.count) {
                reader.report(addressesNode, fields.field("addresses"),
                              "an endpoint needs 1 to 100 addresses, got \(addressNodes.count)")
            }
            var addresses: [IPAddress] = []
            for (j, addressNode) in addressNodes.enumerated() {
                let addressPath = fields.field("addresses").index(j)
                guard let text = reader.string(addressNode, addressPath) else { continue }
                guard let ip = IPAddress(text) else {
                    reader.report(addressNode, addressPath, "\"\(text)\" is not an IP address")
                    continue
                }
                if let family, ip.family != family {
                    let wanted = family == .ipv4 ? "IPv4" : "IPv6"
                    reader.report(addressNode, addressPath, "\"\(text)\" is not an \(wanted) address (addressType is \(wanted))")
                    continue
                }
                addresses.append(ip)
            }
            endpoints.append(Endpoint(addresses: addresses, ready: ready))
        }
        return complete ? endpoints : nil
    }

    private static func readTargetRef(_ node: Node, _ path: FieldPath, reader: NodeReader) {
        let names = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]
        guard let fields = reader.fields(node, path, allowed: names) else { return }
        for name in names {
            if let value = fields[name] { _ = reader.string(value, fields.field(name)) }
        }
    }

    private static func readHints(_ node: Node, _ path: FieldPath, reader: NodeReader) {
        guard let fields = reader.fields(node, path, allowed: ["forZones", "forNodes"]) else { return }
        for name in ["forZones", "forNodes"] {
            guard let list = fields[name], let items = reader.list(list, fields.field(name)) else { continue }
            for (i, item) in items.enumerated() {
                let itemPath = fields.field(name).index(i)
                if let hint = reader.fields(item, itemPath, allowed: ["name"], required: ["name"]), let value = hint["name"] {
                    _ = reader.string(value, hint.field("name"))
                }
            }
        }
    }
}
