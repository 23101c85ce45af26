/// Why a TLS connection was refused or broke, as a stable token for logs and for the
/// `reason` label of metrics. New cases may be added; existing strings never change.
public enum TLSFailureReason: String, CaseIterable, Sendable, Hashable {
    /// The client sent no certificate (the server requires one).
    case noPeerCertificate = "no-peer-certificate"
    /// A certificate in the peer's chain has expired.
    case certificateExpired = "certificate-expired"
    /// A certificate in the peer's chain is not valid yet (or the clocks disagree).
    case certificateNotYetValid = "certificate-not-yet-valid"
    /// The peer's chain does not lead to a root in our trust bundle.
    case unknownCA = "unknown-ca"
    /// The chain leads to our root but is invalid otherwise (bad signature, a CA used as
    /// a leaf, path length or key usage violated).
    case badCertificate = "bad-certificate"
    /// The peer's certificate has no `spiffe://` URI SAN.
    case noSPIFFEID = "no-spiffe-id"
    /// Several `spiffe://` URI SANs, other URI SANs beside the one SPIFFE ID, or one that
    /// is not a valid SPIFFE ID.
    case invalidSPIFFEID = "invalid-spiffe-id"
    /// A valid SPIFFE ID from another trust domain.
    case foreignTrustDomain = "foreign-trust-domain"
    /// A SPIFFE ID in our trust domain, but not the identity this connection expects.
    case identityMismatch = "identity-mismatch"
    /// The peer refused our certificate (it sent a certificate alert).
    case peerRejectedCertificate = "peer-rejected-certificate"
    /// No agreement on ALPN `h2` (the mesh's only protocol).
    case alpnNotH2 = "alpn-not-h2"
    /// No TLS version both sides allow (we need 1.2 or later).
    case unsupportedVersion = "unsupported-version"
    /// No common cipher suite, group or signature algorithm, or a handshake_failure alert.
    case handshakeFailure = "handshake-failure"
    /// The first bytes are plaintext (HTTP/1.1, the HTTP/2 preface), not a TLS record.
    case notTLS = "not-tls"
    /// Malformed, unexpected or undecryptable records, or another protocol alert.
    case protocolError = "protocol-error"
    /// The handshake ended before completing: the peer closed, or we shut down.
    case closedDuringHandshake = "closed-during-handshake"
    /// After the handshake, the stream ended without close_notify (possibly truncated).
    case unexpectedEOF = "unexpected-eof"
    /// OpenSSL failed for a local reason (out of memory, an empty error queue).
    case internalError = "internal-error"
}

/// A refused or broken TLS connection: a stable `reason` and a human `detail` built from
/// OpenSSL's error queue and verification result.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stable token for metrics and logs.
    public let reason: TLSFailureReason
    /// What happened, for a log line (OpenSSL's error strings, the certificate problem).
    public let detail: String

    /// An error with `reason` and a log-ready `detail`.
    public init(reason: TLSFailureReason, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// Why a `TLSContext` could not be built from its files.
public struct TLSConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The file at fault, when there is one.
    public let path: String?
    /// What is wrong with it.
    public let message: String

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}
