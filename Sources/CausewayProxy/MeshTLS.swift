import CausewayTLS

/// The TLS contexts a proxy uses between clusters: one to accept (gateway listeners) and
/// one to connect (links to remote gateways). Both come from the `Proxy`'s `tls` files
/// and are rebuilt on reload, so certificate rotation needs no restart.
public struct MeshTLS: Sendable {
    /// Accepts mTLS on gateway listeners (client certificate required).
    public let server: TLSContext
    /// Connects to remote gateways, presenting our certificate.
    public let client: TLSContext

    public init(server: TLSContext, client: TLSContext) {
        self.server = server
        self.client = client
    }

    /// Our SPIFFE ID, for `x-forwarded-client-cert`'s `By=`.
    public var localIdentity: String? { server.localIdentity?.description }
}
