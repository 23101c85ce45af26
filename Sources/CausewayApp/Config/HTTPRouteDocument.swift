import CausewayMesh
import Yams

/// Validates an `HTTPRoute` (`gateway.networking.k8s.io/v1`, also `v1beta1`) in the Gateway
/// API's mesh form (GAMMA): its `parentRefs` are Services, and its rules split the requests
/// for those Services between backends, with matches, timeouts and retries.
///
/// What the mesh form does not have (`hostnames`) and what this version does not do
/// (`filters`, regular expressions, `sectionName`) is refused with the reason, not ignored, so
/// a route never does less than it says. Names are not resolved here: parents and backends are
/// `ServiceKey`s in the route's namespace, and a backend may appear later (mirroring).
/// One `parentRefs` entry of an `HTTPRoute` as written: a Service and the port it names, if
/// any. Kept for `/config` only: a route applies to every port of its parents, and routing
/// reads `HTTPRoutePolicy.parents`.
struct RouteParentRef: Hashable {
    let service: ServiceKey
    let port: UInt16?
}

enum HTTPRouteDocument {
    static let apiVersions = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]

    /// A route as read: its identity (for duplicates) and, when it had no problem, its value
    /// and its `parentRefs` as written (for `/config`).
    struct Draft {
        let origin: PolicyReading.Origin
        let route: HTTPRoutePolicy?
        var parentRefs: [RouteParentRef] = []
    }

    static let parentRefsCount = 1...32
    static let rulesCount = 1...16
    static let matchesCount = 0...64
    static let headersCount = 0...16
    static let queryParamsCount = 0...16
    static let backendRefsCount = 0...16
    static let weightRange = 0...1_000_000
    /// `timeouts.request` and `timeouts.backendRequest`, ms: 1 ms to 24 h (or 0s, none).
    static let timeoutRange = 1...86_400_000
    static let retryAttemptsRange = 0...10
    static let retryCodeRange = 500...599
    /// `retry.backoff`, ms.
    static let backoffRange = 1...10_000
    /// The shortest `backoffMaxNanos`: 250 ms, the default's.
    static let minimumBackoffMaxNanos: UInt64 = 250_000_000
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
    static let multiclusterGroup = "multicluster.x-k8s.io"

    private static let specUnsupported: [(name: String, why: String)] = [
        ("hostnames", "a route attached to a Service (the mesh form) applies to every name of that Service, so it takes no hostnames; remove the field"),
    ]
    private static let filtersWhy = "filters (header changes, redirects, rewrites, mirroring) are not supported by this version; remove the field"
    private static let ruleUnsupported: [(name: String, why: String)] = [("filters", filtersWhy)]
    private static let backendUnsupported: [(name: String, why: String)] = [("filters", filtersWhy)]
    private static let parentUnsupported: [(name: String, why: String)] = [
        ("sectionName", "a route applies to every port of its Service; remove the field"),
    ]

    static func read(_ root: Node, reader: NodeReader) -> Draft? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata", "spec"]) else {
            return nil
        }
        let origin = PolicyReading.origin(top, reader: reader)
        guard let specNode = top["spec"],
              let spec = reader.fields(specNode, top.field("spec"), allowed: ["parentRefs", "rules"] + PolicyReading.names(specUnsupported),
                                       required: ["parentRefs", "rules"])
        else { return origin.map { Draft(origin: $0, route: nil) } }
        PolicyReading.refuse(spec, specUnsupported, reader: reader)
        // Nil when metadata is invalid (reported): references are then not compared with it,
        // and the route is not kept, but everything else is still checked.
        let namespace = origin?.namespace

        let parents = spec["parentRefs"].flatMap { readParents($0, spec.field("parentRefs"), namespace: namespace, reader: reader) }
        var rules: [RouteRule] = []
        if let node = spec["rules"],
           let items = PolicyReading.list(node, spec.field("rules"), count: rulesCount, entries: "rules",
                                          hint: "a route needs at least one rule", reader: reader)
        {
            for (i, item) in items.enumerated() {
                if let rule = readRule(item, spec.field("rules").index(i), namespace: namespace, reader: reader) { rules.append(rule) }
            }
        }
        guard let origin else { return nil }
        guard reader.log.count == problemsBefore, let parents else { return Draft(origin: origin, route: nil) }
        let route = HTTPRoutePolicy(name: origin.name, namespace: origin.namespace, parents: parents.keys, rules: rules)
        return Draft(origin: origin, route: route, parentRefs: parents.refs)
    }

    // MARK: parentRefs

    private static func readParents(
        _ node: Node, _ path: FieldPath, namespace: String?, reader: NodeReader
    ) -> (keys: [ServiceKey], refs: [RouteParentRef])? {
        guard let items = PolicyReading.list(node, path, count: parentRefsCount, entries: "parentRefs",
                                             hint: "name the Service this route applies to, e.g. { kind: Service, name: webapp }", reader: reader)
        else { return nil }
        var keys: [ServiceKey] = [], refs: [RouteParentRef] = []
        var firstAt: [RouteParentRef: FieldPath] = [:]
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: ["group", "kind", "namespace", "name", "port"]
                                                 + PolicyReading.names(parentUnsupported), required: ["name"])
            else {
                complete = false
                continue
            }
            var ok = PolicyReading.refuse(fields, parentUnsupported, reader: reader)
            ok = PolicyReading.coreGroup(fields, reader: reader) && ok
            if let kindNode = fields["kind"] {
                if let kind = reader.string(kindNode, fields.field("kind")) {
                    if kind != "Service" {
                        reader.report(kindNode, fields.field("kind"),
                                      "kind \(kind) is not supported: Causeway is a mesh proxy, and a mesh route attaches to a Service (kind: Service)")
                        ok = false
                    }
                } else { ok = false }
            } else {
                reader.report(at: item.mark, fields.field("kind"),
                              "required field is missing: the Gateway API's default kind is Gateway, which Causeway does not serve; "
                                  + "write kind: Service for a mesh route")
                ok = false
            }
            ok = PolicyReading.sameNamespace(fields, own: namespace, kind: "HTTPRoute", reader: reader) && ok
            let name = fields["name"].flatMap { PolicyReading.serviceName($0, fields.field("name"), reader: reader) }
            var port: UInt16?
            if let portNode = fields["port"] {
                if let value = reader.integer(portNode, fields.field("port"), in: 1...65_535) { port = UInt16(value) } else { ok = false }
            }
            guard ok, let name else {
                complete = false
                continue
            }
            let ref = RouteParentRef(service: ServiceKey(namespace: namespace ?? "", name: name), port: port)
            if let first = firstAt[ref] {
                reader.report(item, itemPath, "this parent is already listed at \(first)")
                complete = false
                continue
            }
            firstAt[ref] = itemPath
            refs.append(ref)
            if !keys.contains(ref.service) { keys.append(ref.service) }
        }
        return complete ? (keys, refs) : nil
    }

    // MARK: rules

    private static func readRule(_ node: Node, _ path: FieldPath, namespace: String?, reader: NodeReader) -> RouteRule? {
        guard let fields = reader.fields(node, path, allowed: ["matches", "backendRefs", "timeouts", "retry"]
                                             + PolicyReading.names(ruleUnsupported))
        else { return nil }
        var ok = PolicyReading.refuse(fields, ruleUnsupported, reader: reader)
        var matches: [RouteMatch] = []
        if let node = fields["matches"] {
            if let items = PolicyReading.list(node, fields.field("matches"), count: matchesCount, entries: "matches", reader: reader) {
                for (i, item) in items.enumerated() {
                    if let match = readMatch(item, fields.field("matches").index(i), reader: reader) { matches.append(match) } else { ok = false }
                }
            } else { ok = false }
        }
        var backends: [RouteBackend] = []
        if let node = fields["backendRefs"] {
            if let items = PolicyReading.list(node, fields.field("backendRefs"), count: backendRefsCount, entries: "backendRefs", reader: reader) {
                for (i, item) in items.enumerated() {
                    if let backend = readBackend(item, fields.field("backendRefs").index(i), namespace: namespace, reader: reader) {
                        backends.append(backend)
                    } else { ok = false }
                }
            } else { ok = false }
        }
        var timeouts = RouteTimeouts()
        if let node = fields["timeouts"] {
            if let value = readTimeouts(node, fields.field("timeouts"), reader: reader) { timeouts = value } else { ok = false }
        }
        var retry: RetryPolicy?
        if let node = fields["retry"] {
            retry = readRetry(node, fields.field("retry"), reader: reader)
            if retry == nil { ok = false }
        }
        return ok ? RouteRule(matches: matches, backends: backends, timeouts: timeouts, retry: retry) : nil
    }

    private static func readMatch(_ node: Node, _ path: FieldPath, reader: NodeReader) -> RouteMatch? {
        guard let fields = reader.fields(node, path, allowed: ["path", "headers", "queryParams", "method"]) else { return nil }
        var ok = true
        var matchPath = RouteMatch.Path.prefix("/")
        if let node = fields["path"] {
            if let value = readPath(node, fields.field("path"), reader: reader) { matchPath = value } else { ok = false }
        }
        let headers = fields["headers"].map {
            readNameValues($0, fields.field("headers"), count: headersCount, isHeader: true, reader: reader)
        } ?? []
        let queryParams = fields["queryParams"].map {
            readNameValues($0, fields.field("queryParams"), count: queryParamsCount, isHeader: false, reader: reader)
        } ?? []
        var method: String?
        if let node = fields["method"] {
            method = readMethod(node, fields.field("method"), reader: reader)
            if method == nil { ok = false }
        }
        guard ok, let headers, let queryParams else { return nil }
        return RouteMatch(path: matchPath, headers: headers, method: method, queryParams: queryParams)
    }

    private static func readPath(_ node: Node, _ path: FieldPath, reader: NodeReader) -> RouteMatch.Path? {
        guard let fields = reader.fields(node, path, allowed: ["type", "value"]) else { return nil }
        var exact = false
        if let node = fields["type"] {
            guard let type = reader.string(node, fields.field("type")) else { return nil }
            switch type {
            case "Exact": exact = true
            case "PathPrefix": exact = false
            case "RegularExpression":
                reader.report(node, fields.field("type"), "RegularExpression is not supported; use Exact or PathPrefix")
                return nil
            default:
                reader.report(node, fields.field("type"), "unknown path match type \"\(type)\"; expected Exact or PathPrefix")
                return nil
            }
        }
        var value = "/"
        if let node = fields["value"] {
            guard let text = reader.string(node, fields.field("value")) else { return nil }
            guard text.hasPrefix("/") else {
                reader.report(node, fields.field("value"), "\"\(text)\" must start with /")
                return nil
            }
            if let bad = text.first(where: { $0 == "?" || $0 == "#" }) {
                reader.report(node, fields.field("value"),
                              "\"\(text)\" holds \"\(bad)\": a path match compares the path alone, without query or fragment "
                                  + "(match query parameters with queryParams)")
                return nil
            }
            if PolicyReading.hasControlCharacter(text) || text.contains(" ") {
                reader.report(node, fields.field("value"), "\"\(text)\" holds a space or control character, which a request path cannot")
                return nil
            }
            value = text
        }
        return exact ? .exact(value) : .prefix(value)
    }

    /// `headers` or `queryParams`: exact matches, names unique (header names compared
    /// case-insensitively and kept lowercase).
    private static func readNameValues(
        _ node: Node, _ path: FieldPath, count: ClosedRange<Int>, isHeader: Bool, reader: NodeReader
    ) -> [NameValue]? {
        let entries = isHeader ? "header matches" : "query parameter matches"
        guard let items = PolicyReading.list(node, path, count: count, entries: entries, reader: reader) else { return nil }
        var result: [NameValue] = []
        var firstAt: [String: FieldPath] = [:]
        var complete = true
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let fields = reader.fields(item, itemPath, allowed: ["type", "name", "value"], required: ["name", "value"]) else {
                complete = false
                continue
            }
            var ok = true
            if let node = fields["type"], let type = reader.string(node, fields.field("type")) {
                switch type {
                case "Exact": break
                case "RegularExpression":
                    reader.report(node, fields.field("type"), "RegularExpression is not supported; use Exact")
                    ok = false
                default:
                    reader.report(node, fields.field("type"), "unknown match type \"\(type)\"; expected Exact")
                    ok = false
                }
            } else if fields["type"] != nil { ok = false }
            var name: String?
            if let node = fields["name"], let text = reader.string(node, fields.field("name")) {
                if isHeader {
                    if PolicyReading.isToken(text) {
                        name = text.lowercased()
                    } else {
                        reader.report(node, fields.field("name"),
                                      "\"\(text)\" is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only; no pseudo-headers)")
                    }
                } else if PolicyReading.hasControlCharacter(text) {
                    reader.report(node, fields.field("name"), "\"\(text)\" holds a control character")
                } else {
                    name = text
                }
                if let n = name, let first = firstAt[n] {
                    reader.report(node, fields.field("name"),
                                  "\(isHeader ? "header" : "query parameter") \"\(n)\" is already matched at \(first); a request has one value to compare")
                    name = nil
                } else if let n = name {
                    firstAt[n] = itemPath
                }
            }
            var value: String?
            if let node = fields["value"], let text = reader.string(node, fields.field("value"), allowEmpty: true) {
                if PolicyReading.hasControlCharacter(text) {
                    reader.report(node, fields.field("value"), "\"\(text)\" holds a control character, which no request carries")
                } else {
                    value = text
                }
            }
            guard ok, let name, let value else {
                complete = false
                continue
            }
            result.append(NameValue(name: name, value: value))
        }
        return complete ? result : nil
    }

    private static func readMethod(_ node: Node, _ path: FieldPath, reader: NodeReader) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard methods.contains(text) else {
            let hint = methods.contains(text.uppercased()) ? " (methods are uppercase: \(text.uppercased()))" : ""
            reader.report(node, path, "unknown method \"\(text)\"\(hint); expected one of \(methods.joined(separator: ", "))")
            return nil
        }
        return text
    }

    // MARK: backendRefs

    private static func readBackend(_ node: Node, _ path: FieldPath, namespace: String?, reader: NodeReader) -> RouteBackend? {
        guard let fields = reader.fields(node, path, allowed: ["group", "kind", "namespace", "name", "port", "weight"]
                                             + PolicyReading.names(backendUnsupported), required: ["name"])
        else { return nil }
        var ok = PolicyReading.refuse(fields, backendUnsupported, reader: reader)
        var kind = "Service"
        if let node = fields["kind"] {
            if let text = reader.string(node, fields.field("kind")) { kind = text } else { ok = false; kind = "" }
        }
        var group = ""
        if let node = fields["group"] {
            if let text = reader.string(node, fields.field("group"), allowEmpty: true) { group = text } else { ok = false }
        }
        var clusterset = false
        switch kind {
        case "Service":
            if group != "", let node = fields["group"] {
                reader.report(node, fields.field("group"), "must be \"\" (the core API group, where Service is), got \"\(group)\"")
                ok = false
            }
        case "ServiceImport":
            clusterset = true
            if group != multiclusterGroup {
                reader.report(fields["group"] ?? node, fields.field("group"),
                              fields["group"] == nil
                                  ? "required field is missing: a ServiceImport is in group \(multiclusterGroup)"
                                  : "must be \(multiclusterGroup) for kind ServiceImport, got \"\(group)\"")
                ok = false
            }
        case "":
            break
        default:
            reader.report(fields["kind"], fields.field("kind"),
                          "kind \(kind) is not supported: a backend is a Service, or the ServiceImport of a clusterset name "
                              + "(group: \(multiclusterGroup))")
            ok = false
        }
        ok = PolicyReading.sameNamespace(fields, own: namespace, kind: "HTTPRoute", reader: reader) && ok
        let name = fields["name"].flatMap { PolicyReading.serviceName($0, fields.field("name"), reader: reader) }
        var port: UInt16?
        if let node = fields["port"] {
            if let value = reader.integer(node, fields.field("port"), in: 1...65_535) { port = UInt16(value) } else { ok = false }
        }
        var weight = 1
        if let node = fields["weight"] {
            if let value = reader.integer(node, fields.field("weight"), in: weightRange) { weight = value } else { ok = false }
        }
        guard ok, let name else { return nil }
        return RouteBackend(service: ServiceKey(namespace: namespace ?? "", name: name, clusterset: clusterset), port: port, weight: weight)
    }

    // MARK: timeouts, retry

    private static func readTimeouts(_ node: Node, _ path: FieldPath, reader: NodeReader) -> RouteTimeouts? {
        guard let fields = reader.fields(node, path, allowed: ["request", "backendRequest"]) else { return nil }
        var timeouts = RouteTimeouts()
        var ok = true
        if let node = fields["request"] {
            if let v = reader.durationNanos(node, fields.field("request"), in: timeoutRange, zeroMeansNone: true, grammar: .gateway) {
                timeouts.requestNanos = v
            } else { ok = false }
        }
        if let node = fields["backendRequest"] {
            if let v = reader.durationNanos(node, fields.field("backendRequest"), in: timeoutRange, zeroMeansNone: true, grammar: .gateway) {
                timeouts.backendRequestNanos = v
            } else { ok = false }
        }
        // Gateway API: one attempt cannot outlast the whole request.
        if ok, timeouts.requestNanos > 0, timeouts.backendRequestNanos > timeouts.requestNanos, let node = fields["backendRequest"] {
            reader.report(node, fields.field("backendRequest"),
                          "\(DurationText.format(DurationText.millis(fromNanos: timeouts.backendRequestNanos))) is longer than "
                              + "request \(DurationText.format(DurationText.millis(fromNanos: timeouts.requestNanos))); "
                              + "one attempt must fit in the whole request")
            ok = false
        }
        return ok ? timeouts : nil
    }

    private static func readRetry(_ node: Node, _ path: FieldPath, reader: NodeReader) -> RetryPolicy? {
        guard let fields = reader.fields(node, path, allowed: ["attempts", "codes", "backoff"]) else { return nil }
        var retry = RetryPolicy()
        retry.idempotentOnly = false
        var ok = true
        if let node = fields["attempts"] {
            if let v = reader.integer(node, fields.field("attempts"), in: retryAttemptsRange) { retry.attempts = v } else { ok = false }
        }
        if let node = fields["codes"] {
            if let items = reader.list(node, fields.field("codes")) {
                var codes: [Int] = []
                var firstAt: [Int: FieldPath] = [:]
                for (i, item) in items.enumerated() {
                    let itemPath = fields.field("codes").index(i)
                    guard let code = reader.integer(item, itemPath, in: retryCodeRange) else {
                        ok = false
                        continue
                    }
                    if let first = firstAt[code] {
                        reader.report(item, itemPath, "\(code) is already listed at \(first)")
                        ok = false
                        continue
                    }
                    firstAt[code] = itemPath
                    codes.append(code)
                }
                retry.codes = codes
            } else { ok = false }
        }
        if let node = fields["backoff"] {
            if let v = reader.durationNanos(node, fields.field("backoff"), in: backoffRange, grammar: .gateway) {
                retry.backoffBaseNanos = v
                retry.backoffMaxNanos = max(minimumBackoffMaxNanos, 10 * v)
            } else { ok = false }
        }
        return ok ? retry : nil
    }
}
