/// The AuthorizationPolicies of one Service, compiled, with Istio's semantics:
///
/// 1. any matching DENY policy denies (the first by id `namespace/name` is reported);
/// 2. else, when ALLOW policies exist, the request must match one of them, or it is denied
///    (reporting the first ALLOW policy by id);
/// 3. else the request is allowed.
///
/// A policy matches when any of its rules matches; a policy with no rules matches nothing. A
/// rule matches when (`from` is empty or some source matches) and (`to` is empty or some
/// operation matches). A source or operation matches when each of its non-empty lists has a
/// match.
///
/// Principals compare against the caller's SPIFFE ID without `spiffe://`
/// (`mesh.local/ns/production/sa/frontend`), namespaces against its `ns` segment. An unknown
/// caller (nil principal) matches no principal or namespace pattern, not even `*`, but a rule
/// without `from` still matches it. Paths compare without the query, as sent: no
/// percent-decoding or `..` normalisation (the proxy forwards the path unchanged, so the
/// backend sees what was authorised).
///
/// Patterns: exact, `*` (anything present), `prefix*`, `*suffix`.
///
/// Built once per snapshot per Service; `evaluate` runs per request and does not allocate.
public struct Authorizer: Sendable {
    /// The outcome for one request.
    public enum Verdict: Sendable, Equatable {
        case allowed
        /// Denied; `policy` is the id (`namespace/name`) of the policy responsible.
        case denied(policy: String)
    }

    private let denyPolicies: [Policy]
    private let allowPolicies: [Policy]

    /// `policies`: those whose targets include one Service (not checked: the caller selects them).
    public init(policies: [AuthorizationPolicyRule]) {
        // By id, with the original position ending ties, so "first by id" is deterministic.
        let sorted = policies.enumerated().sorted { a, b in
            a.element.id != b.element.id ? a.element.id < b.element.id : a.offset < b.offset
        }.map(\.element)
        denyPolicies = sorted.filter { $0.action == .deny }.map(Policy.init)
        allowPolicies = sorted.filter { $0.action == .allow }.map(Policy.init)
    }

    /// No policy: everything is allowed, and callers skip evaluation.
    public var isEmpty: Bool { denyPolicies.isEmpty && allowPolicies.isEmpty }

    /// Decides one request. `principal`: the caller's SPIFFE ID text
    /// (`spiffe://mesh.local/ns/production/sa/frontend`) or nil (or empty) when unknown; `method` the
    /// `:method` bytes; `path` the `:path` as sent (may contain `?query`).
    public func evaluate(principal: String?, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Verdict {
        if isEmpty { return .allowed }
        // An empty principal is as unknown as none: nothing to match a pattern against.
        guard var principal, !principal.isEmpty else {
            return decide(Request(principal: nil, namespace: nil, method: method, path: PolicyBytes.splitQuery(path).path))
        }
        // `withUTF8` borrows the String's storage (native strings: no copy).
        return principal.withUTF8 { utf8 in
            let identity = Identity(spiffeID: UnsafeRawBufferPointer(utf8))
            return decide(Request(principal: identity.principal, namespace: identity.namespace, method: method,
                                  path: PolicyBytes.splitQuery(path).path))
        }
    }

    private func decide(_ request: Request) -> Verdict {
        for policy in denyPolicies where policy.matches(request) { return .denied(policy: policy.id) }
        guard let firstAllow = allowPolicies.first else { return .allowed }
        for policy in allowPolicies where policy.matches(request) { return .allowed }
        return .denied(policy: firstAllow.id)
    }

    // MARK: Request

    /// The request as the rules see it, every part borrowed.
    private struct Request {
        /// The principal without `spiffe://`; nil when unknown.
        var principal: UnsafeRawBufferPointer?
        /// The `ns` segment of the SPIFFE path; nil when unknown or absent.
        var namespace: UnsafeRawBufferPointer?
        var method: UnsafeRawBufferPointer
        /// Without the query.
        var path: UnsafeRawBufferPointer
    }

    /// The parts of a SPIFFE ID the rules read.
    private struct Identity {
        var principal: UnsafeRawBufferPointer
        var namespace: UnsafeRawBufferPointer?

        /// `spiffe://<trust domain>/ns/<namespace>/sa/<account>`. Without the scheme the
        /// text is taken as the principal as is (already in Istio's form). The namespace is
        /// the segment after `/ns/` directly following the trust domain; absent otherwise.
        init(spiffeID id: UnsafeRawBufferPointer) {
            let text = PolicyBytes.hasPrefix(id, Identity.scheme) ? UnsafeRawBufferPointer(rebasing: id[Identity.scheme.count...]) : id
            principal = text
            var slash = 0
            while slash < text.count, text[slash] != UInt8(ascii: "/") { slash += 1 }
            let rest = UnsafeRawBufferPointer(rebasing: text[slash...])
            guard PolicyBytes.hasPrefix(rest, Identity.nsMarker) else { return }
            let start = Identity.nsMarker.count
            var end = start
            while end < rest.count, rest[end] != UInt8(ascii: "/") { end += 1 }
            if end > start { namespace = UnsafeRawBufferPointer(rebasing: rest[start..<end]) }
        }

        static let scheme = Array("spiffe://".utf8)
        static let nsMarker = Array("/ns/".utf8)
    }

    // MARK: Compiled policy

    private struct Policy: Sendable {
        let id: String
        let rules: [Rule]

        init(_ policy: AuthorizationPolicyRule) {
            id = policy.id
            rules = policy.rules.map(Rule.init)
        }

        /// Any rule; no rules: nothing.
        func matches(_ request: Request) -> Bool {
            for rule in rules where rule.matches(request) { return true }
            return false
        }
    }

    private struct Rule: Sendable {
        let from: [Source]
        let to: [Operation]

        init(_ rule: AuthorizationRule) {
            from = rule.from.map(Source.init)
            to = rule.to.map(Operation.init)
        }

        func matches(_ request: Request) -> Bool {
            guard from.isEmpty || from.contains(where: { $0.matches(request) }) else { return false }
            return to.isEmpty || to.contains(where: { $0.matches(request) })
        }
    }

    private struct Source: Sendable {
        let principals: [Pattern]
        let namespaces: [Pattern]

        init(_ source: AuthorizationSource) {
            principals = source.principals.map(Pattern.init)
            namespaces = source.namespaces.map(Pattern.init)
        }

        func matches(_ request: Request) -> Bool {
            if !principals.isEmpty {
                guard let principal = request.principal, principals.contains(where: { $0.matches(principal) }) else { return false }
            }
            if !namespaces.isEmpty {
                guard let namespace = request.namespace, namespaces.contains(where: { $0.matches(namespace) }) else { return false }
            }
            return true
        }
    }

    private struct Operation: Sendable {
        let methods: [[UInt8]]
        let paths: [Pattern]

        init(_ operation: AuthorizationOperation) {
            methods = operation.methods.map { Array($0.utf8) }
            paths = operation.paths.map(Pattern.init)
        }

        func matches(_ request: Request) -> Bool {
            if !methods.isEmpty, !methods.contains(where: { PolicyBytes.equal(request.method, $0) }) { return false }
            if !paths.isEmpty, !paths.contains(where: { $0.matches(request.path) }) { return false }
            return true
        }
    }

    /// Istio's string match: exact, `*` (any value present), `prefix*`, `*suffix`, and
    /// `*infix*` (contains). A `*` elsewhere is a literal character (the loader rejects such
    /// patterns).
    private enum Pattern: Sendable {
        case any
        case exact([UInt8])
        case prefix([UInt8])
        case suffix([UInt8])
        case contains([UInt8])

        init(_ text: String) {
            let bytes = Array(text.utf8)
            let star = UInt8(ascii: "*")
            if bytes == [star] || bytes == [star, star] {
                self = .any
            } else if bytes.count > 2, bytes.first == star, bytes.last == star {
                self = .contains(Array(bytes.dropFirst().dropLast()))
            } else if bytes.last == star {
                self = .prefix(Array(bytes.dropLast()))
            } else if bytes.first == star {
                self = .suffix(Array(bytes.dropFirst()))
            } else {
                self = .exact(bytes)
            }
        }

        func matches(_ value: UnsafeRawBufferPointer) -> Bool {
            switch self {
            case .any: true
            case .exact(let bytes): PolicyBytes.equal(value, bytes)
            case .prefix(let bytes): PolicyBytes.hasPrefix(value, bytes)
            case .suffix(let bytes): PolicyBytes.hasSuffix(value, bytes)
            case .contains(let bytes): PolicyBytes.contains(value, bytes)
            }
        }
    }
}
