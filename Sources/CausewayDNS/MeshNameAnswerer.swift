import CausewayMesh

/// What the DNS server does with a question.
public enum MeshAnswer: Equatable, Sendable {
    /// A mesh name with addresses of the asked type: answer them (NOERROR, authoritative).
    case addresses(service: Int, [DNSAnswerRecord])
    /// A mesh name (or, with `service` nil, a name above mesh names in `svc.clusterset.local`)
    /// without records of the asked type: NOERROR with no answers.
    case noData(service: Int?)
    /// No such name under `svc.clusterset.local`: NXDOMAIN, authoritative.
    case nameError
    /// A Service without a virtual IP (the range is full): SERVFAIL.
    case noAddress(service: Int)
    /// Not a mesh name: ask the upstream resolver.
    case forward
}

/// Decides, for one question, whether it is about a mesh name and what the answer is.
/// Immutable: built on the DNS thread for each new table (or settings), then used for every
/// query until the next.
///
/// **Which names.** Exactly those the sidecar routes HTTP for: the question's name goes
/// through `ServiceTable.resolve(authority:)`, so a local or mirrored Service answers to
/// `name` (in the proxy's namespace), `name.ns`, `name.ns.svc` and `name.ns.svc.<cluster
/// domain>`, and a clusterset Service to `name.ns.svc.clusterset.local`, as the table's
/// name rules say. A name with a byte other than letters, digits, `-`, `_` and label dots is
/// never a mesh name.
///
/// **Answers.** A (and ANY) → the Service's virtual IP; AAAA → its IPv6 virtual IP when an
/// IPv6 range is configured, else no records; other types → no records. Unknown names
/// in `svc.clusterset.local` (which only the mesh defines) → NXDOMAIN, except
/// `svc.clusterset.local` itself and `<ns>.svc.clusterset.local` of a namespace with a
/// clusterset Service, which exist (empty non-terminals: no records). Other classes than IN
/// and every other name → forwarded.
public struct MeshNameAnswerer: Sendable {
    /// TTL of mesh answers, seconds: short, so a removed Service stops resolving soon;
    /// addresses do not move, so clients lose little by asking again.
    public static let ttl: UInt32 = 30

    public let table: ServiceTable
    public let ipv4: VirtualIPAllocation
    public let ipv6: VirtualIPAllocation?
    /// Namespaces that hold a clusterset Service (`<ns>.svc.clusterset.local` exists).
    private let clustersetNamespaces: Set<[UInt8]>

    private static let clustersetSuffix = Array("svc.\(ServiceKey.clustersetDomain)".utf8)

    /// - Parameters:
    ///   - ipv4: allocation over the names of `table` (`VirtualIPs.names(of:)`).
    ///   - ipv6: the same for the IPv6 range, when one is configured.
    public init(table: ServiceTable, ipv4: VirtualIPAllocation, ipv6: VirtualIPAllocation?) {
        self.table = table
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        clustersetNamespaces = Set(table.services.filter(\.key.clusterset).map { Array($0.key.namespace.utf8) })
    }

    /// The canonical name of each Service of `table`: what virtual IPs are derived from.
    public static func names(of table: ServiceTable) -> [String] {
        table.services.map(\.key.description)
    }

    public func answer(_ question: DNSQuestion) -> MeshAnswer {
        guard question.class == DNSClass.internet else { return .forward }
        let name = question.name
        if name.isHostname, let service = name.text.withUnsafeBytes({ table.resolve(authority: $0) }) {
            return answer(service: service, type: question.type)
        }
        guard name.isWithin(Self.clustersetSuffix) else { return .forward }
        if name.text.count == Self.clustersetSuffix.count { return .noData(service: nil) }
        let namespace = name.text.prefix(name.text.count - Self.clustersetSuffix.count - 1)
        if !namespace.contains(UInt8(ascii: ".")), clustersetNamespaces.contains(Array(namespace)) {
            return .noData(service: nil)
        }
        return .nameError
    }

    private func answer(service: Int, type: UInt16) -> MeshAnswer {
        let key = table.services[service].key.description
        let allocation: VirtualIPAllocation
        let recordType: UInt16
        switch type {
        case DNSType.a, DNSType.any:
            allocation = ipv4
            recordType = DNSType.a
        case DNSType.aaaa:
            guard let ipv6 else { return .noData(service: service) }
            allocation = ipv6
            recordType = DNSType.aaaa
        default:
            return .noData(service: service)
        }
        guard let address = allocation.address(of: key) else { return .noAddress(service: service) }
        return .addresses(service: service, [DNSAnswerRecord(type: recordType, ttl: Self.ttl, data: address)])
    }
}
