import CausewayTLS

/// The TLS contexts a proxy uses between clusters: one to accept (gateway listeners) and
/// one to connect (links to remote gateways). Both come from the `Proxy`'s `tls` files;
/// a reload builds new ones only when those files changed, so certificate rotation needs no
/// restart and an unrelated edit leaves connections alone.
public struct MeshTLS: Sendable {
    /// Accepts mTLS on gateway listeners (client certificate required).
    public let server: TLSContext
    /// Connects to remote gateways, presenting our certificate.
    public let client: TLSContext
    /// When these contexts replace others, connections made with the others are drained
    /// spread over this long (nanoseconds; 0: all at once).
    public let rotationGracePeriodNanos: UInt64

    public init(server: TLSContext, client: TLSContext, rotationGracePeriodNanos: UInt64 = 30_000_000_000) {
        self.server = server
        self.client = client
        self.rotationGracePeriodNanos = rotationGracePeriodNanos
    }

    /// Our SPIFFE ID, for `x-forwarded-client-cert`'s `By=`.
    public var localIdentity: String? { server.localIdentity?.description }

    /// True when `other` holds these very contexts (a reload that left the TLS files
    /// alone), so nothing made with them needs to drain.
    public func hasSameContexts(as other: MeshTLS?) -> Bool {
        guard let other else { return false }
        return server === other.server && client === other.client
    }
}
