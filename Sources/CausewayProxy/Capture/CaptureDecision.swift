#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayMesh

/// What a plaintext sidecar listener does with a connection it accepted, decided once per
/// connection from where it was going (never per request).
enum CaptureDecision {
    /// Not redirected by capture (a client that dialled the listener itself): served as
    /// always.
    case direct
    /// Redirected, and addressed outside the mesh: relayed unchanged to where it was going,
    /// at once (no sniffing, so a protocol where the server speaks first works).
    case passthrough(SocketAddress)
    /// Redirected to a mesh address (a virtual IP, or a known endpoint): served by the
    /// proxy if it speaks HTTP. `virtualIP`: nothing real is there, so a connection that
    /// does not speak HTTP cannot be passed through and is closed.
    case mesh(SocketAddress, virtualIP: Bool)

    /// Where a captured connection was going; nil for `.direct`.
    var originalDestination: SocketAddress? {
        switch self {
        case .direct: nil
        case .passthrough(let address), .mesh(let address, _): address
        }
    }

    /// Reads the connection's original destination (two system calls) and looks it up in
    /// the snapshot's `MeshDestinations` (a prefix test and one hash lookup).
    static func classify(fd: Int32, mesh: MeshDestinations) -> CaptureDecision {
        guard let original = SocketAddress.capturedDestination(of: fd) else { return .direct }
        let destination = IPDestination(original)
        if mesh.isVirtualIP(destination) { return .mesh(original, virtualIP: true) }
        return mesh.contains(destination) ? .mesh(original, virtualIP: false) : .passthrough(original)
    }
}

extension IPDestination {
    /// The destination a socket address names.
    init(_ address: SocketAddress) {
        switch address {
        case .v4(let s):
            self.init(ipv4: UInt32(bigEndian: s.sin_addr.s_addr), port: UInt16(bigEndian: s.sin_port))
        case .v6(var s):
            let (high, low) = withUnsafeBytes(of: &s.sin6_addr) { raw -> (UInt64, UInt64) in
                var high: UInt64 = 0, low: UInt64 = 0
                for i in 0..<8 { high = high << 8 | UInt64(raw[i]) }
                for i in 8..<16 { low = low << 8 | UInt64(raw[i]) }
                return (high, low)
            }
            self.init(ipv6High: high, low: low, port: UInt16(bigEndian: s.sin6_port))
        }
    }
}
