import Yams

/// The `apiVersion` and `kind` of a document, and what this version does with that kind.
struct ResourceHeader {
    enum Kind {
        case proxy
        case endpointSlice
        case link
        case serviceExport
        case httpRoute
        case destinationRule
        case authorizationPolicy
    }

    static let proxyAPIVersion = "causeway.dev/v1alpha1"
    static let endpointSliceAPIVersion = "discovery.k8s.io/v1"
    static let linkAPIVersion = "causeway.dev/v1alpha1"
    static let serviceExportAPIVersion = "multicluster.x-k8s.io/v1alpha1"

    let kind: Kind
    /// Position of the `kind` value, where document-level problems (a second Proxy) point.
    let kindMark: Mark?
    /// False when `apiVersion` is not one this version serves for `kind` (reported). The
    /// body is then not read, since its shape may differ, but a Proxy still counts as the
    /// config's Proxy so no "missing Proxy" problem follows.
    let served: Bool

    /// Reads the header of a document root; nil (with problems reported) when the document is
    /// not of a kind this version loads.
    static func read(_ root: Node, reader: NodeReader) -> ResourceHeader? {
        guard case .mapping(let mapping) = root else {
            reader.report(root, .root, "a resource must be a mapping with apiVersion and kind, got \(NodeReader.describe(root))")
            return nil
        }
        let kindNode = mapping["kind"].flatMap { isNull($0) ? nil : $0 }
        let versionNode = mapping["apiVersion"].flatMap { isNull($0) ? nil : $0 }
        guard let kindNode else {
            reader.report(at: root.mark, FieldPath.root.key("kind"), "required field is missing")
            return nil
        }
        guard let kind = reader.string(kindNode, FieldPath.root.key("kind")) else { return nil }
        let version: String?
        if let versionNode {
            version = reader.string(versionNode, FieldPath.root.key("apiVersion"))
            if version == nil { return nil }
        } else {
            version = nil
        }

        // The versions served for each kind, the current one first. The traffic policy kinds
        // accept their older versions too: their fields used here did not change.
        let expected: (Kind, [String])
        switch kind {
        case "Proxy": expected = (.proxy, [proxyAPIVersion])
        case "EndpointSlice": expected = (.endpointSlice, [endpointSliceAPIVersion])
        case "Link": expected = (.link, [linkAPIVersion])
        case "ServiceExport": expected = (.serviceExport, [serviceExportAPIVersion])
        case "HTTPRoute": expected = (.httpRoute, HTTPRouteDocument.apiVersions)
        case "DestinationRule": expected = (.destinationRule, DestinationRuleDocument.apiVersions)
        case "AuthorizationPolicy": expected = (.authorizationPolicy, AuthorizationPolicyDocument.apiVersions)
        default:
            reader.report(kindNode, FieldPath.root.key("kind"), "unknown kind \(kind) (apiVersion \(version ?? "missing"))")
            return nil
        }
        guard let version else {
            reader.report(at: root.mark, FieldPath.root.key("apiVersion"), "required field is missing (expected \(expected.1[0]))")
            return ResourceHeader(kind: expected.0, kindMark: kindNode.mark, served: false)
        }
        guard expected.1.contains(version) else {
            reader.report(versionNode, FieldPath.root.key("apiVersion"),
                          "apiVersion \(version) is not served for kind \(kind); expected \(describe(expected.1))")
            return ResourceHeader(kind: expected.0, kindMark: kindNode.mark, served: false)
        }
        return ResourceHeader(kind: expected.0, kindMark: kindNode.mark, served: true)
    }

    /// `a`, `a or b`, `a, b or c`.
    private static func describe(_ versions: [String]) -> String {
        versions.count <= 1 ? versions.joined() : versions.dropLast().joined(separator: ", ") + " or " + versions.last!
    }

    private static func isNull(_ node: Node) -> Bool {
        node.typeName == .null
    }
}
