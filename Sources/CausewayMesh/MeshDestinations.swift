/// An IP address and TCP port as two host-order words and a port: the form in which a
/// captured connection's original destination is compared, without text or allocation.
public struct IPDestination: Hashable, Sendable, CustomStringConvertible {
    public let family: AddressFamily
    /// High 64 bits of an IPv6 address; 0 for IPv4.
    public let high: UInt64
    /// Low 64 bits of an IPv6 address, or the IPv4 address in the low 32 bits.
    public let low: UInt64
    public let port: UInt16

    /// An IPv4 destination; `address` in host order.
    public init(ipv4 address: UInt32, port: UInt16) {
        family = .ipv4
        high = 0
        low = UInt64(address)
        self.port = port
    }

    /// An IPv6 destination from its two 64-bit halves, host order.
    public init(ipv6High high: UInt64, low: UInt64, port: UInt16) {
        family = .ipv6
        self.high = high
        self.low = low
        self.port = port
    }

    /// The destination of an endpoint read from the configuration.
    public init(_ endpoint: EndpointAddress) {
        // EndpointAddress.host is canonical IP text by construction.
        let ip = IPAddress(endpoint.host)!
        let (h, l) = IPPrefix.words(ip)
        family = ip.family
        high = h
        low = l
        port = endpoint.port
    }

    /// `10.1.0.5:8080`, `[fd00::5]:8080`.
    public var description: String {
        EndpointAddress(ip: IPAddress(family: family, high: high, low: low), port: port).description
    }
}

/// What a captured connection may be addressed to and still be the mesh's: a virtual IP
/// (any port; the DNS answers mesh names with them) or the address and port of a known
/// endpoint of any service. Built once per routing snapshot, so the check at accept is a
/// prefix test and one hash lookup.
public struct MeshDestinations: Sendable {
    /// Networks of virtual IPs (`spec.dns.virtualIPs`).
    public let virtualIPs: [IPPrefix]
    private let endpoints: Set<IPDestination>

    /// Every ready endpoint of every service in `services`, and `virtualIPs`.
    public init(services: ServiceTable, virtualIPs: [IPPrefix]) {
        var endpoints = Set<IPDestination>()
        for service in services.services {
            for endpoint in service.readyEndpoints { endpoints.insert(IPDestination(endpoint)) }
        }
        self.init(endpoints: endpoints, virtualIPs: virtualIPs)
    }

    /// The given endpoints and virtual IP networks.
    public init(endpoints: Set<IPDestination>, virtualIPs: [IPPrefix]) {
        self.endpoints = endpoints
        self.virtualIPs = virtualIPs
    }

    /// Known endpoints (for `/config` and tests).
    public var endpointCount: Int { endpoints.count }

    /// True when `destination` is a virtual IP: there is nothing at that address to pass a
    /// connection through to.
    public func isVirtualIP(_ destination: IPDestination) -> Bool {
        switch destination.family {
        case .ipv4: virtualIPs.contains { $0.contains(ipv4: UInt32(truncatingIfNeeded: destination.low)) }
        case .ipv6: virtualIPs.contains { $0.contains(ipv6High: destination.high, low: destination.low) }
        }
    }

    /// True when `destination` is the mesh's: a virtual IP or a known endpoint.
    public func contains(_ destination: IPDestination) -> Bool {
        isVirtualIP(destination) || endpoints.contains(destination)
    }
}
