import CausewayDNS

/// `spec.dns`: the sidecar's DNS server. Present only when the Proxy has a `dns` section
/// (`dns: {}` turns it on with every default); absent, the proxy answers no DNS.
public struct DNSConfig: Sendable, Equatable {
    /// Where the server listens, UDP and TCP on the same port (`address`, default
    /// `127.0.0.1:15053`; port 0 picks a free port).
    public let address: SocketAddressSpec
    /// Where virtual IPv4 addresses come from (`virtualIPs`, default `240.240.0.0/16`).
    public let virtualIPs: VirtualIPRange
    /// Where virtual IPv6 addresses come from (`virtualIPv6s`); nil: AAAA questions for
    /// mesh names have no answers.
    public let virtualIPv6s: VirtualIPRange?
    /// The resolver other questions are forwarded to.
    public let upstream: DNSUpstream
    /// A forwarded question without an answer this long gets SERVFAIL (`upstreamTimeout`,
    /// default 2 s, 100 ms to 30 s), nanoseconds.
    public let upstreamTimeoutNanos: UInt64

    public static let defaultAddress = SocketAddressSpec("127.0.0.1:15053")!
    public static let defaultUpstreamFile = "/etc/resolv.conf"
    public static let defaultUpstreamTimeoutNanos: UInt64 = 2_000_000_000
}

/// The upstream resolver: its address, and where it came from.
public struct DNSUpstream: Sendable, Equatable {
    /// IP literal and port (53 unless written).
    public let address: SocketAddressSpec
    /// The resolv.conf file it was read from (absolute), or nil when written as an address.
    public let resolvConf: String?
}
