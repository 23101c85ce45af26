/// Where captured TCP is redirected: the port of the first `sidecar` listener of each IP
/// family. `REDIRECT` sends a locally generated packet to the loopback address of its family
/// (127.0.0.1, ::1) at that port, so a listener takes redirected connections only when it is
/// bound there or to the wildcard of its family.
public struct CaptureTarget: Sendable, Equatable {
    /// The listener IPv4 connections go to.
    public var ipv4: Listener
    /// The listener IPv6 connections go to; nil when no sidecar listener listens on `::1` or
    /// `::` (IPv6 TCP is then left alone: redirecting it would refuse every connection).
    public var ipv6: Listener?

    /// A listener's name and port.
    public struct Listener: Sendable, Equatable {
        public var name: String
        public var port: UInt16
    }

    /// The target for `listeners`; nil when there is none (see `problem(listeners:)`).
    public init?(listeners: [ListenerConfig]) {
        guard Self.problem(listeners: listeners) == nil,
              let v4 = listeners.first(where: { $0.role == .sidecar && !$0.address.host.contains(":") })
        else { return nil }
        ipv4 = Listener(name: v4.name, port: v4.address.port)
        ipv6 = listeners.first(where: { $0.role == .sidecar && ($0.address.host == "::1" || $0.address.host == "::") && $0.address.port != 0 })
            .map { Listener(name: $0.name, port: $0.address.port) }
    }

    /// Why `listeners` give capture nowhere to redirect to, or nil: there must be a sidecar
    /// listener on 127.0.0.1 or 0.0.0.0 with a fixed port, and the first IPv4 sidecar
    /// listener is the one used.
    public static func problem(listeners: [ListenerConfig]) -> String? {
        let sidecars = listeners.filter { $0.role == .sidecar }
        guard !sidecars.isEmpty else {
            return "capture redirects outbound TCP to the first sidecar listener, and spec.listeners has none"
        }
        guard let v4 = sidecars.first(where: { !$0.address.host.contains(":") }) else {
            return "capture needs a sidecar listener on 127.0.0.1 (or 0.0.0.0) for IPv4; every sidecar listener here is IPv6"
        }
        guard v4.address.host == "127.0.0.1" || v4.address.host == "0.0.0.0" else {
            return "capture redirects to the first sidecar listener (\(v4.name)), which listens on \(v4.address); REDIRECT delivers to 127.0.0.1, so it must listen on 127.0.0.1 or 0.0.0.0"
        }
        guard v4.address.port != 0 else {
            return "capture redirects to the first sidecar listener (\(v4.name)), whose port is 0 (chosen at start); give it a fixed port"
        }
        return nil
    }
}
