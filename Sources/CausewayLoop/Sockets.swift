#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// Creating and configuring non-blocking TCP sockets.
public enum Sockets {
    /// Opens a non-blocking listening socket bound to `address`.
    ///
    /// - Parameter reusePort: set `SO_REUSEPORT` so each worker can bind its own listener to
    ///   the same address and the kernel spreads connections across them.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
        let fd = try Syscall.check("socket", causeway_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue)))
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if case .v6 = address { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            let rc = address.withSockAddr { bind(fd, $0, $1) }
            try Syscall.check("bind \(address)", rc)
            try Syscall.check("listen", Glibc.listen(fd, backlog))
            return fd
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// Starts a non-blocking connect to `address`. The socket becomes writable when the
    /// connect finishes; read `pendingError(fd)` then to learn the outcome. Every outbound
    /// connection of the proxy starts here, so each carries `OutboundMark` (set before the
    /// SYN, which the capture rules see).
    public static func connect(to address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try Syscall.check("socket", causeway_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue)))
        OutboundMark.apply(to: fd)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc < 0 {
            let e = causeway_errno()
            if e != EINPROGRESS && e != EINTR {
                Syscall.close(fd)
                throw SystemError("connect \(address)", code: e)
            }
        }
        setNoDelay(fd)
        return fd
    }

    /// Accepts one connection; nil when none is pending.
    public static func accept(_ listener: Int32) -> Result<Int32, SystemError>? {
        while true {
            let fd = causeway_accept_nonblocking(listener)
            if fd >= 0 {
                setNoDelay(fd)
                return .success(fd)
            }
            let e = causeway_errno()
            switch e {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: return .failure(SystemError("accept", code: e))
            }
        }
    }

    /// `SO_ERROR` of `fd`: 0 after a successful connect.
    /// Bytes written to TCP socket `fd` that the peer has not acknowledged yet (SIOCOUTQ);
    /// nil if the kernel cannot tell. A value that goes down means the peer is reading.
    public static func unacknowledgedBytes(_ fd: Int32) -> Int? {
        let n = causeway_socket_unacked_bytes(fd)
        return n < 0 ? nil : Int(n)
    }

    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 { return causeway_errno() }
        return err
    }

    /// Closes `fd` with a reset (`SO_LINGER` 0): its peer sees ECONNRESET, not an orderly end.
    public static func closeWithReset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Syscall.close(fd)
    }

    /// Disables Nagle: HTTP/2 frames are already batched per loop pass.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var v = value
        try Syscall.check("setsockopt", setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)))
    }
}
