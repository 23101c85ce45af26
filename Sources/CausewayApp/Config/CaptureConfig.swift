import CausewayMesh

/// `spec.capture`: how a pod's outbound TCP is captured (`causeway capture`) and how the
/// sidecar treats captured connections. Capture is honoured only when the section is present
/// (`capture: {}` takes every default): without it `causeway capture` makes no rules and a
/// sidecar listener never looks for an original destination. The proxy marks its own sockets
/// either way.
///
/// Ranges enforced by the loader: `mark` 1...2^32-1; ports 1...65535, each once; CIDRs
/// strict (`IPPrefix`), each once; uids 0...2^32-2; `sniffTimeout` 10 ms...30 s;
/// `passthroughIdleTimeout` 0 (none) or 1 s...168 h.
public struct CaptureConfig: Sendable, Equatable {
    /// `SO_MARK` on every socket the proxy connects; the rules RETURN packets carrying it, so
    /// the proxy's own traffic is never redirected back to it. Default 1337. Read at start
    /// only: the pod's rules, installed once, skip the mark the proxy started with.
    public var mark: UInt32 = 1337
    /// Destination ports never redirected (`excludePorts`), e.g. 22.
    public var excludePorts: [UInt16] = []
    /// Destination networks never redirected (`excludeCIDRs`), e.g. 169.254.169.254/32.
    public var excludeCIDRs: [IPPrefix] = []
    /// When not empty, only these destination networks are redirected (`includeCIDRs`).
    public var includeCIDRs: [IPPrefix] = []
    /// Processes running as these uids are never redirected (`excludeUIDs`): the proxy's own
    /// uid when it runs without CAP_NET_ADMIN and cannot mark its sockets.
    public var excludeUIDs: [UInt32] = []
    /// How long a captured connection to a mesh address may stay silent before it is passed
    /// through unchanged (a server-speaks-first protocol), nanoseconds. Default 100 ms.
    public var sniffTimeoutNanos: UInt64 = 100_000_000
    /// A relayed (passthrough) connection with no byte either way for this long is closed,
    /// nanoseconds; 0: never. Default 1 h, as Envoy's `tcp_proxy`: longer than
    /// `timeouts.idle`, since idle database pools, AMQP and long polls pass through here and a
    /// direct connection would not be cut.
    public var passthroughIdleTimeoutNanos: UInt64 = CaptureConfig.defaultPassthroughIdleTimeoutNanos
    /// True when `spec.capture` was written (a missing section still has the defaults).
    public var configured = false

    /// The defaults above.
    public init() {}

    /// `spec.capture.mark`'s default.
    public static let defaultMark: UInt32 = 1337
    /// `spec.capture.passthroughIdleTimeout`'s default: one hour.
    public static let defaultPassthroughIdleTimeoutNanos: UInt64 = 3_600_000_000_000
}
