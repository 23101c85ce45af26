import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// An OpenSSL `SSL_CTX` configured for the mesh, for one role.
///
/// - TLS 1.2 minimum, 1.3 preferred; AEAD cipher suites with forward secrecy only,
///   AES-128-GCM first; key exchange over X25519 or P-256 only; no renegotiation, no
///   compression.
/// - `SSL_MODE_RELEASE_BUFFERS`, so idle connections drop OpenSSL's record buffers.
/// - Peers are verified against the trust bundle (their intermediate comes in their
///   chain) and must hold exactly one SPIFFE ID in our trust domain; a server requires a
///   client certificate.
/// - ALPN (`h2`) is offered by a client, chosen by a server, and required on both.
/// - Sessions: TLS 1.3 only, for at most `sessionLifetime`. A server issues one stateless
///   TLS 1.3 ticket per handshake (no server-side cache) and never a TLS 1.2 one (see
///   `TicketPolicy`); a client hands new sessions to the connection's `TLSSessionCache`.
/// - The private key file must not be open to group or others (`KeyFileMode`).
/// - Certificate validity is judged at `clock`'s time, on full and resumed handshakes.
///
/// Reloading certificates means building a new context from the files and using it for new
/// connections; existing connections keep theirs (each holds a reference). Immutable once
/// built, so one context is shared by every worker.
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: the SSL_CTX is configured entirely in init and never changed
    // afterwards; OpenSSL allows SSL_new and handshakes on one unmodified SSL_CTX from many
    // threads (its reference counts and statistics are locked internally), and the client
    // session cache lives outside it (TLSSessionCache, one per worker).

    let ctx: OpaquePointer
    /// Server or client.
    public let role: TLSRole
    /// Peers must present a SPIFFE ID in this trust domain.
    public let trustDomain: TrustDomain
    /// ALPN protocols, most preferred first; empty when ALPN is off.
    public let applicationProtocols: [String]
    /// `applicationProtocols` as byte strings, for the ALPN selection callback.
    let applicationProtocolsWire: [[UInt8]]
    /// Our own SPIFFE ID, from our certificate, when it has exactly one valid one.
    public let localIdentity: SPIFFEID?
    /// The time peer certificates are checked against (`TLSConfiguration.clock`).
    public let clock: TLSClock

    /// How long, in seconds, a session may be resumed after the full handshake that made
    /// it: both roles' session timeout (so the server's ticket lifetime too), which the
    /// client cache and the server's ticket policy also check at `clock`. A resumed
    /// handshake verifies no chain, so this bounds how long one verification is reused
    /// (OpenSSL's default is 2 hours): a replaced peer certificate is out of use within it.
    public static let sessionLifetime = 3600

    /// The key exchange groups both roles offer and accept, most preferred first. OpenSSL's
    /// default list also holds X448, P-384, P-521 and FFDHE groups up to 8192 bits: a
    /// client naming only `ffdhe8192` would make the server do 8192-bit modular
    /// exponentiations, milliseconds of CPU per handshake, before the client has proved
    /// anything. X25519 and P-256 are cheap, and P-256 is mandatory in TLS 1.3 (RFC 8446
    /// §9.1), so no conforming peer is shut out.
    static let keyExchangeGroups = "X25519:P-256"

    /// Builds a context from `configuration`'s files.
    /// - Throws: `TLSConfigurationError` naming the file and what is wrong with it (missing,
    ///   not PEM, key not matching the certificate, ...).
    public init(_ configuration: TLSConfiguration) throws(TLSConfigurationError) {
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(configuration.role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw Self.failure(nil, "SSL_CTX_new failed")
        }
        // A throwing initializer does not run deinit, so a failure frees ctx here.
        let identity: SPIFFEID?
        do throws(TLSConfigurationError) {
            try Self.applyPolicy(ctx, configuration)
            try Self.loadTrust(ctx, configuration.trustBundlePath)
            identity = try Self.loadIdentity(ctx, configuration)
            TLSCallbacks.install(on: ctx, role: configuration.role, requiresALPN: !configuration.applicationProtocols.isEmpty)
            try Self.configureSessions(ctx, role: configuration.role)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        OpenSSLErrorQueue.clear()
        self.ctx = ctx
        self.role = configuration.role
        self.trustDomain = configuration.trustDomain
        self.applicationProtocols = configuration.applicationProtocols
        self.applicationProtocolsWire = configuration.applicationProtocols.map { Array($0.utf8) }
        self.localIdentity = identity
        self.clock = configuration.clock
    }

    deinit { SSL_CTX_free(ctx) }

    // MARK: Building

    private static let tls13CipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    private static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    private static func applyPolicy(_ ctx: OpaquePointer, _ configuration: TLSConfiguration) throws(TLSConfigurationError) {
        let minimum = max(configuration.minimumVersion, .tls12)
        guard minimum <= configuration.maximumVersion else {
            throw TLSConfigurationError(path: nil, message: "minimum TLS version \(minimum) is above the maximum \(configuration.maximumVersion)")
        }
        guard causeway_SSL_CTX_set_min_proto_version(ctx, Int32(minimum.rawValue)) == 1,
              causeway_SSL_CTX_set_max_proto_version(ctx, Int32(configuration.maximumVersion.rawValue)) == 1
        else { throw failure(nil, "setting TLS versions") }
        _ = SSL_CTX_set_options(ctx, causeway_SSL_OP_NO_RENEGOTIATION() | causeway_SSL_OP_CIPHER_SERVER_PREFERENCE() | causeway_SSL_OP_NO_COMPRESSION())
        guard SSL_CTX_set_ciphersuites(ctx, tls13CipherSuites) == 1, SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else {
            throw failure(nil, "setting cipher suites")
        }
        guard causeway_SSL_CTX_set1_groups_list(ctx, keyExchangeGroups) == 1 else {
            throw failure(nil, "setting key exchange groups")
        }
        // RELEASE_BUFFERS: idle connections give back OpenSSL's ~34 KB of record buffers.
        // PARTIAL_WRITE and ACCEPT_MOVING_WRITE_BUFFER: our BIO never refuses a write, so
        // SSL_write always completes; these keep a retried write legal should that change.
        _ = causeway_SSL_CTX_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        // A proxy must never stop to ask for a key's password on a terminal.
        SSL_CTX_set_default_passwd_cb(ctx) { _, _, _, _ in 0 }
        // root -> intermediate -> leaf; a little room, but no unbounded chain walking.
        SSL_CTX_set_verify_depth(ctx, 4)
        guard configuration.applicationProtocols.allSatisfy({ (1...255).contains($0.utf8.count) }) else {
            throw TLSConfigurationError(path: nil, message: "ALPN protocol names must be 1 to 255 bytes: \(configuration.applicationProtocols)")
        }
        if configuration.role == .client && !configuration.applicationProtocols.isEmpty {
            let wire = ALPNWire.encode(configuration.applicationProtocols)
            // Unusually, 0 is success here.
            guard SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) == 0 else { throw failure(nil, "setting ALPN protocols") }
        }
    }

    private static func loadTrust(_ ctx: OpaquePointer, _ path: String) throws(TLSConfigurationError) {
        try requireReadable(path, what: "trust bundle")
        guard SSL_CTX_load_verify_file(ctx, path) == 1 else {
            throw failure(path, "cannot load the trust bundle")
        }
    }

    private static func loadIdentity(_ ctx: OpaquePointer, _ configuration: TLSConfiguration) throws(TLSConfigurationError) -> SPIFFEID? {
        guard let chainPath = configuration.certificateChainPath, let keyPath = configuration.privateKeyPath else {
            if configuration.role == .server {
                throw TLSConfigurationError(path: nil, message: "a TLS server needs certificateChain and privateKey")
            }
            if configuration.certificateChainPath != nil || configuration.privateKeyPath != nil {
                throw TLSConfigurationError(path: nil, message: "certificateChain and privateKey go together")
            }
            return nil
        }
        try requireReadable(chainPath, what: "certificate chain")
        try requireReadable(keyPath, what: "private key")
        try KeyFileMode.check(keyPath)
        guard SSL_CTX_use_certificate_chain_file(ctx, chainPath) == 1 else {
            throw failure(chainPath, "cannot load the certificate chain")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) == 1 else {
            let entries = OpenSSLErrorQueue.drain()
            // OpenSSL compares the key with the certificate while loading it.
            let mismatch = entries.contains { $0.library == ERR_LIB_X509 && ($0.reason == X509_R_KEY_VALUES_MISMATCH || $0.reason == X509_R_KEY_TYPE_MISMATCH) }
            let detail = entries.isEmpty ? "no detail from OpenSSL" : entries.map(\.text).joined(separator: "; ")
            throw TLSConfigurationError(
                path: keyPath,
                message: mismatch
                    ? "the private key does not match the certificate in \(chainPath): \(detail)"
                    : "cannot load the private key (it must be unencrypted PEM): \(detail)"
            )
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw failure(keyPath, "the private key does not match the certificate in \(chainPath)")
        }
        guard let leaf = SSL_CTX_get0_certificate(ctx) else { return nil }
        return try? PeerIdentityRule.spiffeID(fromURIs: GeneralNames.uris(of: leaf))
    }

    private static func configureSessions(_ ctx: OpaquePointer, role: TLSRole) throws(TLSConfigurationError) {
        _ = SSL_CTX_set_timeout(ctx, sessionLifetime)
        switch role {
        case .server:
            // Resumed sessions carry a verified client certificate; OpenSSL only resumes them
            // for the same session id context.
            let id = Array("causeway-mesh".utf8)
            guard SSL_CTX_set_session_id_context(ctx, id, UInt32(id.count)) == 1 else { throw failure(nil, "SSL_CTX_set_session_id_context") }
            // Stateless tickets need no server cache; the ticket key is per context, so a
            // reload starts a new ticket generation (clients then do one full handshake).
            _ = causeway_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
            // A client keeps only the last session per upstream: one ticket is enough.
            _ = SSL_CTX_set_num_tickets(ctx, 1)
            // TLS 1.3 tickets only (see TicketPolicy). Not SSL_OP_NO_TICKET: on a server it
            // also turns TLS 1.3 tickets stateful, which without a server cache would end
            // TLS 1.3 resumption as well.
            guard TicketPolicy.install(on: ctx) else { throw failure(nil, "SSL_CTX_set_session_ticket_cb") }
        case .client:
            // The cache is ours (per worker, per upstream); OpenSSL's would be shared.
            _ = causeway_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
            // A client's SSL_OP_NO_TICKET only leaves the TLS 1.2 SessionTicket extension out
            // of the ClientHello (TLS 1.3 tickets arrive after the handshake regardless), so
            // no TLS 1.2 server, ours or another, resumes us from a stateless ticket.
            _ = SSL_CTX_set_options(ctx, causeway_SSL_OP_NO_TICKET())
        }
    }

    private static func requireReadable(_ path: String, what: String) throws(TLSConfigurationError) {
        guard access(path, R_OK) == 0 else {
            throw TLSConfigurationError(path: path, message: "cannot read the \(what): \(String(cString: strerror(errno)))")
        }
    }

    private static func failure(_ path: String?, _ message: String) -> TLSConfigurationError {
        TLSConfigurationError(path: path, message: "\(message): \(OpenSSLErrorQueue.drainDescription(fallback: "no detail from OpenSSL"))")
    }
}
