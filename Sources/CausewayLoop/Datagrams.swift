#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// Non-blocking UDP sockets: a bound one that serves many peers (`receive` says who sent
/// each datagram, `send` whom to answer) and a connected one that talks to one peer (the
/// kernel drops datagrams from anyone else).
public enum Datagrams {
    /// Opens a non-blocking UDP socket bound to `address`.
    public static func bind(_ address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try Syscall.check("socket", causeway_socket_nonblocking(address.family, Int32(SOCK_DGRAM.rawValue)))
        do {
            if case .v6 = address {
                var one: Int32 = 1
                try Syscall.check("setsockopt", setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)))
            }
            try Syscall.check("bind \(address) (udp)", address.withSockAddr { Glibc.bind(fd, $0, $1) })
            return fd
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// Opens a non-blocking UDP socket connected to `address` (an ephemeral local port). It
    /// carries `OutboundMark`, like every socket the proxy connects, so capture rules do not
    /// send the proxy's own DNS questions back to it.
    public static func connect(to address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try Syscall.check("socket", causeway_socket_nonblocking(address.family, Int32(SOCK_DGRAM.rawValue)))
        OutboundMark.apply(to: fd)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc < 0 {
            let error = SystemError("connect \(address) (udp)", code: causeway_errno())
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// One received datagram.
    public struct Received {
        /// Bytes stored in the buffer (at most its size).
        public let count: Int
        /// True when the datagram was larger than the buffer (the rest is lost).
        public let truncated: Bool
        /// The sender.
        public let from: SocketAddress?
    }

    /// Receives one datagram into `buffer`; nil when none is waiting, or on an error (a
    /// connected socket reports an earlier ICMP refusal this way; there is nothing to do
    /// about it but read on).
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Received? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let n = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC), $0, &length)
                }
            }
            if n >= 0 {
                return Received(count: min(n, buffer.count), truncated: n > buffer.count, from: SocketAddress(storage: storage))
            }
            let e = causeway_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            // ECONNREFUSED and the like: report "nothing now" only if the queue is empty;
            // the caller loops, and the next call reads on.
            return Received(count: 0, truncated: false, from: nil)
        }
    }

    /// Sends `bytes` as one datagram to `to` (nil: the connected peer).
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to address: SocketAddress?) -> IOResult {
        while true {
            let n: Int
            if let address {
                n = address.withSockAddr { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, $1) }
            } else {
                n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT))
            }
            if n >= 0 { return .bytes(n) }
            let e = causeway_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }
}

extension SocketAddress {
    /// The address in `storage` (from `recvfrom`, `getsockname`), or nil for other families.
    init?(storage: sockaddr_storage) {
        var storage = storage
        guard let address = withUnsafePointer(to: &storage, { p -> SocketAddress? in
            switch Int32(p.pointee.ss_family) {
            case AF_INET: return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4($0.pointee) }
            case AF_INET6: return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { .v6($0.pointee) }
            default: return nil
            }
        }) else { return nil }
        self = address
    }
}
