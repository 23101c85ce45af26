import CausewayMesh
import Yams

/// Validates an `AuthorizationPolicy` (`security.istio.io/v1`, also `v1beta1`): which callers
/// (by mTLS identity) may, or may not, make which requests to the Services it targets.
///
/// Targets are named with `targetRefs` (kind Service, the policy's namespace); `selector` is
/// refused, since the proxy knows Services, not pod labels. Only the positive matches on the
/// caller's principal and namespace and on the method and path are supported; every other Istio
/// field is refused with the reason, so a policy never allows more than it says. Values are
/// exact or have one `*` at either end (`prefix*`, `*suffix`), or are `*` alone.
enum AuthorizationPolicyDocument {
    static let apiVersions = ["security.istio.io/v1", "security.istio.io/v1beta1"]

    struct Draft {
        let origin: PolicyReading.Origin
        let policy: AuthorizationPolicyRule?
    }

    static let targetRefsCount = 1...16

    private static let specUnsupported: [(name: String, why: String)] = [
        ("selector", "the proxy knows Services, not pod labels; name the Services with targetRefs"),
        ("targetRef", "use targetRefs, a list"),
        ("provider", "CUSTOM actions need an external authorizer, which this version does not call"),
    ]
    private static let ruleUnsupported: [(name: String, why: String)] = [
        ("when", "conditions on request attributes are not evaluated; match with from (principals, namespaces) and to (methods, paths)"),
    ]
    private static let negativeWhy = "negative matches are not evaluated; list what an ALLOW policy allows, or what a DENY policy denies"
    private static let sourceUnsupported: [(name: String, why: String)] = [
        ("notPrincipals", negativeWhy), ("notNamespaces", negativeWhy),
        ("requestPrincipals", "there is no end-user (JWT) authentication; callers are identified by their mTLS principal"),
        ("notRequestPrincipals", "there is no end-user (JWT) authentication; callers are identified by their mTLS principal"),
        ("ipBlocks", "callers are identified by their mTLS principal, not their address"),
        ("notIpBlocks", "callers are identified by their mTLS principal, not their address"),
        ("remoteIpBlocks", "callers are identified by their mTLS principal, not their address"),
        ("notRemoteIpBlocks", "callers are identified by their mTLS principal, not their address"),
        ("serviceAccounts", "match the service account in principals (\"*/sa/frontend\")"),
        ("notServiceAccounts", negativeWhy),
    ]
    private static let operationUnsupported: [(name: String, why: String)] = [
        ("notMethods", negativeWhy), ("notPaths", negativeWhy),
        ("hosts", "the policy applies to the Services in targetRefs, by whatever name they are called"),
        ("notHosts", "the policy applies to the Services in targetRefs, by whatever name they are called"),
        ("ports", "the policy applies to every port of its targets"),
        ("notPorts", "the policy applies to every port of its targets"),
    ]

    static func read(_ root: Node, reader: NodeReader) -> Draft? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata", "spec"]) else {
            return nil
        }
        let origin = PolicyReading.origin(top, reader: reader)
        guard let specNode = top["spec"],
              let spec = reader.fields(specNode, top.field("spec"), allowed: ["targetRefs", "action", "rules"] + PolicyReading.names(specUnsupported),
                                       required: ["targetRefs"])
        else { return origin.map { Draft(origin: $0, policy: nil) } }
        PolicyReading.refuse(spec, specUnsupported, reader: reader)
        let namespace = origin?.namespace  // nil: invalid (reported); references are not compared with it

        let targets = spec["targetRefs"].flatMap { readTargets($0, spec.field("targetRefs"), namespace: namespace, reader: reader) }
        var action = AuthorizationPolicyRule.Action.allow
        if let node = spec["action"], let text = reader.string(node, spec.field("action")) {
            switch text {
            case "ALLOW": action = .allow
            case "DENY": action = .deny
            case "CUSTOM":
                reader.report(node, spec.field("action"), "CUSTOM is not supported: it delegates to an external authorizer, which this version does not call")
            case "AUDIT":
                reader.report(node, spec.field("action"), "AUDIT is not supported: there is no audit log")
            default:
                reader.report(node, spec.field("action"), "unknown action \"\(text)\"; expected ALLOW or DENY")
            }
        }
        var rules: [AuthorizationRule] = []
        if let node = spec["rules"], let items = reader.list(node, spec.field("rules")) {
            for (i, item) in items.enumerated() {
                if let rule = readRule(item, spec.field("rules").index(i), reader: reader) { rules.append(rule) }
            }
        }
        guard let origin else { return nil }
        guard reader.log.count == problemsBefore, let targets else { return Draft(origin: origin, policy: nil) }
        return Draft(origin: origin, policy: AuthorizationPolicyRule(
            name: origin.name, namespace: origin.namespace, targets: targets, action: action, rules: rules))
    }

    private static func readTargets(_ node: Node, _ path: FieldPath, namespace: String?, reader: NodeReader) -> [ServiceKey]? {
        guard let items = PolicyReading.list(node, path, count: targetRefsCount, entries: "targetRefs",
                                             hint: "name the Services this policy applies to, e.g. { kind: Service, name: webapp }", reader: reader)
        else { return nil }
        var targets: [ServiceKey] = []
        var firstAt: [ServiceKey: FieldPath] = [:]
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: ["group", "kind", "namespace", "name"], required: ["kind", "name"]) else {
                complete = false
                continue
            }
            var ok = PolicyReading.coreGroup(fields, reader: reader)
            if let node = fields["kind"] {
                if let kind = reader.string(node, fields.field("kind")) {
                    if kind != "Service" {
                        reader.report(node, fields.field("kind"),
                                      "kind \(kind) is not supported: a policy applies to Services (kind: Service) this proxy routes to")
                        ok = false
                    }
                } else { ok = false }
            } else { ok = false }
            ok = PolicyReading.sameNamespace(fields, own: namespace, kind: "AuthorizationPolicy", reader: reader) && ok
            let name = fields["name"].flatMap { PolicyReading.serviceName($0, fields.field("name"), reader: reader) }
            guard ok, let name else {
                complete = false
                continue
            }
            let key = ServiceKey(namespace: namespace ?? "", name: name)
            if let first = firstAt[key] {
                reader.report(fields["name"], fields.field("name"), "Service \(name) is already a target at \(first)")
                complete = false
                continue
            }
            firstAt[key] = itemPath
            targets.append(key)
        }
        return complete ? targets : nil
    }

    private static func readRule(_ node: Node, _ path: FieldPath, reader: NodeReader) -> AuthorizationRule? {
        guard let fields = reader.fields(node, path, allowed: ["from", "to"] + PolicyReading.names(ruleUnsupported)) else { return nil }
        var ok = PolicyReading.refuse(fields, ruleUnsupported, reader: reader)
        var from: [AuthorizationSource] = []
        if let node = fields["from"] {
            if let items = reader.list(node, fields.field("from")) {
                for (i, item) in items.enumerated() {
                    if let source = readFrom(item, fields.field("from").index(i), reader: reader) { from.append(source) } else { ok = false }
                }
            } else { ok = false }
        }
        var to: [AuthorizationOperation] = []
        if let node = fields["to"] {
            if let items = reader.list(node, fields.field("to")) {
                for (i, item) in items.enumerated() {
                    if let operation = readTo(item, fields.field("to").index(i), reader: reader) { to.append(operation) } else { ok = false }
                }
            } else { ok = false }
        }
        return ok ? AuthorizationRule(from: from, to: to) : nil
    }

    private static func readFrom(_ node: Node, _ path: FieldPath, reader: NodeReader) -> AuthorizationSource? {
        guard let item = reader.fields(node, path, allowed: ["source"], required: ["source"]), let sourceNode = item["source"],
              let fields = reader.fields(sourceNode, item.field("source"), allowed: ["principals", "namespaces"] + PolicyReading.names(sourceUnsupported))
        else { return nil }
        var ok = PolicyReading.refuse(fields, sourceUnsupported, reader: reader)
        let principals = fields["principals"].map { values($0, fields.field("principals"), reader: reader, check: principalProblem) } ?? []
        let namespaces = fields["namespaces"].map { values($0, fields.field("namespaces"), reader: reader, check: namespaceProblem) } ?? []
        if ok, fields["principals"] == nil, fields["namespaces"] == nil {
            reader.report(sourceNode, item.field("source"), "an empty source matches every caller (Istio refuses it); give principals or namespaces, or leave out from")
            ok = false
        }
        guard ok, let principals, let namespaces else { return nil }
        return AuthorizationSource(principals: principals, namespaces: namespaces)
    }

    private static func readTo(_ node: Node, _ path: FieldPath, reader: NodeReader) -> AuthorizationOperation? {
        guard let item = reader.fields(node, path, allowed: ["operation"], required: ["operation"]), let operationNode = item["operation"],
              let fields = reader.fields(operationNode, item.field("operation"), allowed: ["methods", "paths"] + PolicyReading.names(operationUnsupported))
        else { return nil }
        var ok = PolicyReading.refuse(fields, operationUnsupported, reader: reader)
        let methods = fields["methods"].map { values($0, fields.field("methods"), reader: reader, check: methodProblem) } ?? []
        let paths = fields["paths"].map { values($0, fields.field("paths"), reader: reader, check: pathProblem) } ?? []
        if ok, fields["methods"] == nil, fields["paths"] == nil {
            reader.report(operationNode, item.field("operation"), "an empty operation matches every request (Istio refuses it); give methods or paths, or leave out to")
            ok = false
        }
        guard ok, let methods, let paths else { return nil }
        return AuthorizationOperation(methods: methods, paths: paths)
    }

    /// A non-empty list of strings, each passing `check` (nil, or why not).
    private static func values(_ node: Node, _ path: FieldPath, reader: NodeReader, check: (String) -> String?) -> [String]? {
        guard let items = reader.list(node, path) else { return nil }
        if items.isEmpty {
            reader.report(node, path, "must not be empty: an empty list would match nothing here; leave the field out to match anything")
            return nil
        }
        var result: [String] = []
        var complete = true
        for (i, item) in items.enumerated() {
            guard let text = reader.string(item, path.index(i)) else {
                complete = false
                continue
            }
            if let problem = check(text) {
                reader.report(item, path.index(i), problem)
                complete = false
                continue
            }
            result.append(text)
        }
        return complete ? result : nil
    }

    private static func principalProblem(_ text: String) -> String? {
        if text.hasPrefix("spiffe://") {
            return "\"\(text)\": write principals without spiffe://, as Istio does (\"\(text.dropFirst("spiffe://".count))\")"
        }
        if let problem = PolicyReading.patternProblem(text) { return problem }
        if PolicyReading.hasControlCharacter(text) || text.contains(" ") { return "\"\(text)\" holds a space or control character" }
        return nil
    }

    private static func namespaceProblem(_ text: String) -> String? {
        if let problem = PolicyReading.patternProblem(text) { return problem }
        let literal = PolicyReading.literal(of: text)
        let allowed = literal.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
        }
        if !allowed || (text == literal && !NameRules.isDNSLabel(text)) {
            return "\"\(text)\" \(NameRules.dnsLabelRule) (or a pattern of one: *, prefix*, *suffix)"
        }
        return nil
    }

    private static func methodProblem(_ text: String) -> String? {
        if let problem = PolicyReading.patternProblem(text) { return problem }
        if text.contains("*") { return "\"\(text)\": methods are matched exactly; leave methods out to match any" }
        guard PolicyReading.isToken(text), text == text.uppercased() else {
            let hint = PolicyReading.isToken(text) ? " (methods are uppercase: \(text.uppercased()))" : ""
            return "\"\(text)\" is not an HTTP method\(hint)"
        }
        return nil
    }

    private static func pathProblem(_ text: String) -> String? {
        if let problem = PolicyReading.patternProblem(text) { return problem }
        if text != "*", !text.hasPrefix("*"), !text.hasPrefix("/") {
            return "\"\(text)\" must start with / (or be a *suffix pattern)"
        }
        if let bad = text.first(where: { $0 == "?" || $0 == "#" }) {
            return "\"\(text)\" holds \"\(bad)\": paths are compared without the query"
        }
        if PolicyReading.hasControlCharacter(text) || text.contains(" ") { return "\"\(text)\" holds a space or control character" }
        return nil
    }
}
