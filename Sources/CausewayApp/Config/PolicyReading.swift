import CausewayMesh
import Yams

/// What the three traffic policy documents (`HTTPRouteDocument`, `DestinationRuleDocument`,
/// `AuthorizationPolicyDocument`) share: fields of the upstream APIs this version refuses with
/// a reason, list lengths, references to Services in the policy's own namespace, HTTP tokens
/// and the wildcard patterns of AuthorizationPolicy.
enum PolicyReading {
    /// The identity and position of one policy document, known even when its body has
    /// problems, so a duplicate is still reported.
    struct Origin {
        /// `metadata.namespace` and `metadata.name`.
        let namespace: String
        let name: String
        /// The file, as shown in problems, and where `metadata.name` is.
        let file: String
        let nameMark: Mark?

        var id: String { "\(namespace)/\(name)" }
        var location: String { problemLocation(file, nameMark) }
    }

    /// Reads `metadata` (the name a DNS subdomain, the namespace a DNS label, default
    /// `default`). Nil when the name or namespace is missing or invalid (reported).
    static func origin(_ top: YAMLFields, reader: NodeReader) -> Origin? {
        guard let node = top["metadata"], let metadata = ObjectMetadata.read(node, top.field("metadata"), reader: reader),
              let name = metadata.name, let namespace = metadata.namespace
        else { return nil }
        return Origin(namespace: namespace, name: name, file: reader.file, nameMark: metadata.nameMark)
    }

    /// Reports each field of `unsupported` (name, why) that `fields` holds, at its key, as
    /// `not supported: <why>`. Returns false when any was present. The names must be among the
    /// mapping's allowed fields, so that they read as refused rather than unknown.
    @discardableResult
    static func refuse(_ fields: YAMLFields, _ unsupported: [(name: String, why: String)], reader: NodeReader) -> Bool {
        var ok = true
        for (name, why) in unsupported where fields[name] != nil {
            reader.report(at: fields.keyMark(name), fields.field(name), "not supported: \(why)")
            ok = false
        }
        return ok
    }

    /// The names of `unsupported`, to add to a mapping's allowed fields.
    static func names(_ unsupported: [(name: String, why: String)]) -> [String] {
        unsupported.map(\.name)
    }

    /// The elements of a list whose length is in `range`; nil (reported) otherwise. `entries`
    /// names the elements in the message (`"parentRefs"`); `hint` follows "must not be empty".
    static func list(
        _ node: Node, _ path: FieldPath, count range: ClosedRange<Int>, entries: String, hint: String = "", reader: NodeReader
    ) -> [Node]? {
        guard let items = reader.list(node, path) else { return nil }
        if items.count < range.lowerBound {
            if range.lowerBound == 1 {
                reader.report(node, path, "must not be empty\(hint.isEmpty ? "" : ": \(hint)")")
            } else {
                reader.report(node, path, "has \(items.count) \(entries); at least \(range.lowerBound) are required")
            }
            return nil
        }
        if items.count > range.upperBound {
            reader.report(node, path, "has \(items.count) \(entries); at most \(range.upperBound) are allowed")
            return nil
        }
        return items
    }

    /// `group`: absent or `""` (the core API group, Service's). False when not (reported).
    static func coreGroup(_ fields: YAMLFields, reader: NodeReader) -> Bool {
        guard let node = fields["group"] else { return true }
        guard let group = reader.string(node, fields.field("group"), allowEmpty: true) else { return false }
        guard group.isEmpty else {
            reader.report(node, fields.field("group"), "must be \"\" (the core API group, where Service is), got \"\(group)\"")
            return false
        }
        return true
    }

    /// `namespace` of a reference: absent or `own`. False when not (reported). With `own` nil
    /// (the policy's own namespace is invalid, and reported), only the type is checked.
    static func sameNamespace(_ fields: YAMLFields, own: String?, kind: String, reader: NodeReader) -> Bool {
        guard let node = fields["namespace"] else { return true }
        guard let namespace = reader.string(node, fields.field("namespace")) else { return false }
        guard let own else { return true }
        guard namespace == own else {
            reader.report(node, fields.field("namespace"),
                          "\"\(namespace)\" is not this \(kind)'s namespace \"\(own)\"; references to other namespaces are not supported "
                              + "(put the \(kind) in \(namespace), or leave namespace out)")
            return false
        }
        return true
    }

    /// A Service name (an RFC 1035 label), or nil (reported).
    static func serviceName(_ node: Node, _ path: FieldPath, reader: NodeReader) -> String? {
        ObjectMetadata.validated(node, path, reader: reader, valid: NameRules.isServiceName, rule: NameRules.serviceNameRule)
    }

    /// An HTTP token (RFC 9110 §5.6.2): header names and methods.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// True when `text` holds a control character (other than tab), which no HTTP field
    /// value can carry.
    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }
    }

    /// Where `*` may be in an AuthorizationPolicy value: at its start, its end, or both (`*`,
    /// `prefix*`, `*suffix`, `*infix*`), nowhere else. Nil when `text` is a valid pattern,
    /// else why not.
    static func patternProblem(_ text: String) -> String? {
        guard text.count > 2, text.dropFirst().dropLast().contains("*") else { return nil }
        return "\"\(text)\" has a * inside; * may only start or end a value (*, prefix*, *suffix, *infix*)"
    }

    /// The text of a pattern without its `*`, which must still follow the value's own rule.
    static func literal(of pattern: String) -> String {
        pattern.replacingOccurrences(of: "*", with: "")
    }
}
