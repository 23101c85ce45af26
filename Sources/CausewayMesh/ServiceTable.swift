/// An immutable snapshot of the services this proxy knows, and the name resolution that maps
/// an HTTP `:authority` to one of them.
///
/// Built by the control thread, then shared read-only by every worker (hence a `Sendable`
/// class: one copy, no locks). A new snapshot replaces it on change.
///
/// Names resolve like Kubernetes DNS, for a service `name` in namespace `ns`:
/// `name` (only when `ns` is the table's default namespace), `name.ns`, `name.ns.svc`, and
/// `name.ns.svc.<clusterDomain>`; any `:port` is ignored, letters are compared
/// case-insensitively (ASCII), and one trailing dot is allowed. A service mirrored from another
/// cluster (`webapp-cluster2`) resolves like any other service with that name; a clusterset
/// service only as `name.ns.svc.clusterset.local`.
///
/// Two lookups: `resolve` (a sidecar: every service) and `resolveExported` (a gateway: only
/// local services a `ServiceExport` names; any other name, known or not, is nil, so a gateway
/// cannot tell a caller which unexported services exist).
public final class ServiceTable: Sendable {
    /// Every service, `services[i].index == i`.
    public let services: [ServiceEntry]
    /// The namespace in which bare names (`webapp`) resolve.
    public let defaultNamespace: String
    /// The cluster DNS suffix of fully qualified names, lowercase, no trailing dot.
    public let clusterDomain: String
    private let aliases: AliasIndex
    /// Index by key, for resolving policy references (not on the request path).
    private let byKey: [ServiceKey: Int]
    /// `services[i].exported`, packed: the gateway's admission check reads one byte.
    private let exportedFlags: [Bool]

    /// Builds the table and its alias index.
    ///
    /// - Precondition: `services[i].index == i` for every `i`, and keys are unique; the config
    ///   loader guarantees both, so a violation is a programming error.
    public init(services: [ServiceEntry], defaultNamespace: String, clusterDomain: String = "cluster.local") {
        var domain = Substring(clusterDomain.lowercased())
        if domain.hasSuffix(".") { domain = domain.dropLast() }
        var seen = Set<ServiceKey>()
        var aliases: [(name: String, service: Int)] = []
        aliases.reserveCapacity(services.count * 4)
        for (position, service) in services.enumerated() {
            precondition(service.index == position, "service \(service.key) has index \(service.index), expected \(position)")
            precondition(seen.insert(service.key).inserted, "service \(service.key) appears twice")
            let name = service.key.name, namespace = service.key.namespace
            if service.key.clusterset {
                // A clusterset name has one form: short names stay with the local service.
                aliases.append(("\(name).\(namespace).svc.\(ServiceKey.clustersetDomain)", position))
                continue
            }
            if namespace == defaultNamespace {
                aliases.append((name, position))
            }
            aliases.append(("\(name).\(namespace)", position))
            aliases.append(("\(name).\(namespace).svc", position))
            if !domain.isEmpty {
                aliases.append(("\(name).\(namespace).svc.\(domain)", position))
            }
        }
        self.services = services
        self.defaultNamespace = defaultNamespace
        self.clusterDomain = String(domain)
        self.aliases = AliasIndex(aliases: aliases)
        self.exportedFlags = services.map(\.exported)
        self.byKey = Dictionary(services.map { ($0.key, $0.index) }, uniquingKeysWith: { a, _ in a })
    }

    /// The index of the service with `key`, or nil.
    public func index(of key: ServiceKey) -> Int? {
        byKey[key]
    }

    /// Resolves an HTTP `:authority` (or `Host`) given as raw bytes to a service index, or nil
    /// when it names no known service. No heap allocation on this path: it runs per request.
    public func resolve(authority: UnsafeRawBufferPointer) -> Int? {
        guard let name = AuthorityName(authority, maxLength: aliases.maxAliasLength) else { return nil }
        return aliases.lookup(name, in: authority)
    }

    /// Resolves an authority given as a `String`. For tests and the admin endpoint; the data
    /// path uses the byte form.
    public func resolve(authority: String) -> Int? {
        var authority = authority
        return authority.withUTF8 { resolve(authority: UnsafeRawBufferPointer($0)) }
    }

    /// Resolves an authority like `resolve(authority:)`, but only to an exported local service
    /// (`services[i].exported`); nil for every other name, whether it names no service, a
    /// local service that is not exported, or a mirrored one. What a gateway admits. No heap
    /// allocation.
    public func resolveExported(authority: UnsafeRawBufferPointer) -> Int? {
        guard let index = resolve(authority: authority), exportedFlags[index] else { return nil }
        return index
    }

    /// `resolveExported` for a `String`. For tests and the admin endpoint.
    public func resolveExported(authority: String) -> Int? {
        var authority = authority
        return authority.withUTF8 { resolveExported(authority: UnsafeRawBufferPointer($0)) }
    }

    /// True when `services[index]` can take a request now: it has a ready endpoint, or for a
    /// clusterset service, one of its members does.
    public func isReady(_ index: Int) -> Bool {
        let s = services[index]
        return s.isClusterset ? s.members.contains { !services[$0.service].readyEndpoints.isEmpty } : !s.readyEndpoints.isEmpty
    }

    /// True when `services[index].exported`, read from a packed array. `index` must be in
    /// `services.indices` (a precondition, as for any array subscript).
    public func isExported(_ index: Int) -> Bool {
        exportedFlags[index]
    }
}
