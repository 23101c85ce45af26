/// What a `TLSContext` is built from: file paths and policy, as the `Proxy` resource's
/// `tls` block and `trustDomain` give them.
public struct TLSConfiguration: Sendable {
    /// Server (accepting) or client (connecting).
    public var role: TLSRole
    /// Peers must present a SPIFFE ID in this trust domain.
    public var trustDomain: TrustDomain
    /// PEM file of the root CA(s) peers' chains must lead to (`certs/out/root.pem`).
    public var trustBundlePath: String
    /// PEM file of our certificate, then its intermediate (`certs/out/C/proxy-chain.pem`).
    /// Required for a server. A client without one cannot join the mesh (servers refuse
    /// it); that form exists for tests and probes.
    public var certificateChainPath: String?
    /// PEM file of our private key, unencrypted. Required with `certificateChainPath`.
    public var privateKeyPath: String?
    /// ALPN protocols, most preferred first. A client offers them, a server picks the
    /// first of its own the client offers, and a connection that agrees on none of them is
    /// refused at the handshake (`alpn-not-h2`). Empty disables ALPN entirely (only useful
    /// to model a non-mesh peer in tests).
    public var applicationProtocols: [String] = ["h2"]
    /// Lowest TLS version accepted. Never below 1.2.
    public var minimumVersion: TLSProtocolVersion = .tls12
    /// Highest TLS version offered (1.3 unless a test needs 1.2).
    public var maximumVersion: TLSProtocolVersion = .tls13
    /// The time peer certificates' validity is checked against, on full handshakes and
    /// on resumed ones. The system clock unless a test needs another moment.
    public var clock: TLSClock = .system

    /// A configuration with the defaults above (ALPN `h2`, TLS 1.2 to 1.3).
    public init(
        role: TLSRole,
        trustDomain: TrustDomain,
        trustBundlePath: String,
        certificateChainPath: String?,
        privateKeyPath: String?
    ) {
        self.role = role
        self.trustDomain = trustDomain
        self.trustBundlePath = trustBundlePath
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
