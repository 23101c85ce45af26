import CausewayMesh

/// How a proxy checks that a linked cluster's gateway is reachable.
///
/// Ranges enforced by the loader (the `var`s let code and tests adjust a loaded value):
/// `periodMillis` 100...3,600,000 (1 h); `timeoutMillis` 10...60,000 and at most
/// `periodMillis`; `failureThreshold` 1...100.
public struct LinkProbe: Sendable, Hashable {
    /// Time between probes of one gateway address, milliseconds.
    public var periodMillis: Int = 3_000
    /// A probe not answered within this long has failed, milliseconds.
    public var timeoutMillis: Int = 1_000
    /// Consecutive failed probes after which the link counts as lost.
    public var failureThreshold: Int = 3

    /// The defaults above: every 3 s, 1 s timeout, lost after 3 failures.
    public init() {}
}

/// A validated `Link` (`causeway.dev/v1alpha1`): a remote cluster, the addresses of its
/// east-west gateway, and the identity that gateway must present. Only the loader creates
/// one, so holding one means it passed validation.
public struct LinkConfig: Sendable {
    /// `metadata.name`, a DNS subdomain. For logs; links are keyed by `cluster`.
    public let name: String
    /// The remote cluster: a DNS label, unique among links, never the proxy's own cluster.
    /// Mirrored EndpointSlices name it in `multicluster.kubernetes.io/source-cluster`.
    public let cluster: String
    /// The remote gateway's addresses, as written (at least one, unique, IP literals, never a
    /// wildcard address or port 0).
    public let gateways: [SocketAddressSpec]
    /// The SPIFFE ID the remote gateway must present, canonical text (`spiffe://mesh.local/...`);
    /// its trust domain is the Proxy's `trustDomain`.
    public let identity: String
    /// Reachability probing.
    public let probe: LinkProbe

    /// `gateways` as endpoint addresses, for connection pools.
    public var gatewayEndpoints: [EndpointAddress] {
        gateways.map { gateway in
            // A SocketAddressSpec's host is a canonical IP literal by construction.
            guard let endpoint = EndpointAddress(host: gateway.host, port: gateway.port) else {
                preconditionFailure("gateway \(gateway) does not hold an IP literal")
            }
            return endpoint
        }
    }
}
