import CausewayMesh

/// How a worker treats connections that traffic capture redirected to a sidecar listener.
public struct CaptureSettings: Sendable {
    /// True when the Proxy has a `capture` section (`causeway capture` makes rules only for
    /// such a Proxy). Only then does a sidecar listener read each connection's original
    /// destination (two system calls per accept); otherwise no connection can have been
    /// captured by our rules, and each is served as dialled.
    public var enabled = false
    /// Why captured connections are refused, when they are: the proxy's own connections
    /// carry no mark (the kernel refused `SO_MARK`) and no `excludeUIDs` entry covers its
    /// uid, so whatever it connected for one would be captured again (a passthrough would
    /// multiply until descriptors ran out). Each is then reset at accept, counted and logged;
    /// connections that were not captured are served as always.
    public var refusal: String?
    /// A captured connection to a mesh address that sends nothing for this long is passed
    /// through to its original destination (a server-speaks-first protocol), nanoseconds
    /// (`spec.capture.sniffTimeout`, default 100 ms).
    public var sniffTimeoutNanos: UInt64 = 100_000_000
    /// A passthrough relay with no byte either way for this long is closed, nanoseconds; 0:
    /// never (`spec.capture.passthroughIdleTimeout`, default 1 h).
    public var passthroughIdleNanos: UInt64 = 3_600_000_000_000
    /// Virtual IPs of mesh Services (`spec.dns.virtualIPs`, default 240.240.0.0/16): a
    /// captured connection to one is the mesh's, and has no real destination to pass
    /// through to.
    public var virtualIPs: [IPPrefix] = [CaptureSettings.defaultVirtualIPs]

    /// Istio's range for automatically allocated Service addresses.
    public static let defaultVirtualIPs = IPPrefix("240.240.0.0/16")!

    /// The defaults above.
    public init() {}
}
