#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims
import Synchronization

/// The `SO_MARK` every socket the proxy connects carries (`spec.capture.mark`), so the
/// capture rules in the pod's network namespace RETURN the proxy's own packets instead of
/// redirecting them back to it. Process-wide: `Sockets.connect` applies it to every outbound
/// TCP socket (upstream pools, link probes, export streams, passthrough), and any other
/// outbound socket (the DNS forwarder's) calls `apply(to:)` before it sends.
///
/// Setting `SO_MARK` needs `CAP_NET_ADMIN`. `configure` tries once on a scratch socket; when
/// the kernel refuses, marking stays off (no failing syscall per connect) and the caller logs
/// that once.
public enum OutboundMark {
    /// 0: no mark (none configured, or the process may not set one).
    private static let value = Atomic<UInt32>(0)

    /// The mark applied now; 0 when none.
    public static var current: UInt32 { value.load(ordering: .relaxed) }

    /// Marks sockets connected from now on with `mark` (0 turns marking off). Returns the
    /// error when the process may not set `SO_MARK`; marking is then off.
    @discardableResult
    public static func configure(_ mark: UInt32) -> SystemError? {
        guard mark != 0 else {
            value.store(0, ordering: .relaxed)
            return nil
        }
        let fd = causeway_socket_nonblocking(AF_INET, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { return SystemError("socket", code: causeway_errno()) }
        defer { Syscall.close(fd) }
        if let error = set(mark, on: fd) {
            value.store(0, ordering: .relaxed)
            return error
        }
        value.store(mark, ordering: .relaxed)
        return nil
    }

    /// Sets the configured mark on `fd` (before it connects or sends); nothing when none.
    public static func apply(to fd: Int32) {
        let mark = current
        if mark != 0 { _ = set(mark, on: fd) }
    }

    /// The mark `fd` carries (`SO_MARK`), or nil if it cannot be read. For tests.
    public static func mark(of fd: Int32) -> UInt32? {
        var value: UInt32 = 0
        var length = socklen_t(MemoryLayout<UInt32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_MARK, &value, &length) == 0 else { return nil }
        return value
    }

    private static func set(_ mark: UInt32, on fd: Int32) -> SystemError? {
        var v = mark
        guard setsockopt(fd, SOL_SOCKET, SO_MARK, &v, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            return SystemError("setsockopt(SO_MARK, \(mark))", code: causeway_errno())
        }
        return nil
    }
}
