/// Which services a listener's requests may reach.
public enum RouteScope: Sendable, Equatable {
    /// A sidecar listener: every known service, local or mirrored.
    case anyService
    /// A gateway listener: exported local services only; every other name looks unknown.
    case exportedOnly
}

/// The parts of a request head that routing reads, as bytes borrowed from the header block
/// for the duration of one `RouteDecision.decide` call (nothing is copied or converted).
public struct RequestHead {
    /// `:method`, nil when absent.
    public var method: UnsafeRawBufferPointer?
    /// `:authority`, nil when absent.
    public var authority: UnsafeRawBufferPointer?
    /// `host`, nil when absent.
    public var host: UnsafeRawBufferPointer?

    public init(method: UnsafeRawBufferPointer?, authority: UnsafeRawBufferPointer?, host: UnsafeRawBufferPointer?) {
        self.method = method
        self.authority = authority
        self.host = host
    }
}

/// Why a request is refused before any upstream is chosen.
public enum RouteRejection: Sendable, Equatable {
    /// Neither `:authority` nor `host`.
    case missingAuthority
    /// Both present and naming different hosts (RFC 9113 §8.3.1): a backend routing on
    /// `host` would serve another name than the one admitted.
    case authorityMismatch
    /// CONNECT (and extended CONNECT): the proxy is not a tunnel.
    case methodNotAllowed
    /// Sidecar: the authority names no known service.
    case noRoute
    /// Gateway: not an exported service (unknown names look the same, so a gateway reveals
    /// nothing about what exists behind it).
    case notExported
}

/// The route stage's answer for one request: pure, computed from the snapshot's service
/// table and the request head, with no I/O, so every rule is tested without sockets.
public enum RouteDecision: Sendable, Equatable {
    /// Forward to `services[service]` of the table the decision was made with.
    case forward(service: Int)
    /// Answer the request with this rejection.
    case reject(RouteRejection)

    /// Decides where a request goes. No heap allocation: it runs per request.
    public static func decide(_ head: RequestHead, in table: ServiceTable, scope: RouteScope) -> RouteDecision {
        if let method = head.method, equals(method, "CONNECT") { return .reject(.methodNotAllowed) }
        guard let authority = head.authority ?? head.host else { return .reject(.missingAuthority) }
        if let host = head.host, head.authority != nil, !equalsIgnoringCase(host, authority) {
            return .reject(.authorityMismatch)
        }
        switch scope {
        case .anyService:
            guard let service = table.resolve(authority: authority) else { return .reject(.noRoute) }
            return .forward(service: service)
        case .exportedOnly:
            guard let service = table.resolveExported(authority: authority) else { return .reject(.notExported) }
            return .forward(service: service)
        }
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        let other = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        for i in 0..<bytes.count where bytes[i] != other[i] { return false }
        return true
    }

    /// ASCII case-insensitive equality (host names compare without case).
    private static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where lower(a[i]) != lower(b[i]) { return false }
        return true
    }

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
}
