import COpenSSL
import CausewayBytes

/// One TLS connection, sans-I/O: ciphertext in through `feed`, ciphertext out through
/// `takeCiphertext`, plaintext through `readPlaintext` and `writePlaintext`. The caller owns
/// the socket (see docs/decisions/0004).
///
/// A loop pass: feed what the socket read → `handshake()` until `.complete`, then
/// `readPlaintext` until `.wantMore` → `writePlaintext(draining:)` what the application
/// produced → `takeCiphertext` into the socket's output queue → one `writev`. On socket EOF
/// call `receivedEndOfStream()` and read once more. Take the ciphertext after every step,
/// reads included: OpenSSL may answer the peer (a KeyUpdate, an alert).
///
/// Peer checks happen inside the handshake: the chain must lead to the trust bundle and the
/// leaf must carry exactly one SPIFFE ID in the context's trust domain (and equal
/// `expectedPeer` when given); ALPN must agree on one of the context's protocols. A refused
/// or broken connection reports `.failed(TLSError)` with a stable reason; nothing a peer
/// sends can crash the process.
///
/// Owned by one event loop; not thread-safe.
public final class TLSConnection {
    /// The context this connection was made from (kept alive by it).
    public let context: TLSContext
    /// The identity the peer must have, if this connection expects a particular one.
    public let expectedPeer: SPIFFEID?

    let ssl: OpaquePointer
    let records = TLSRecordBuffers()
    /// Client: where new sessions go and the offered one came from.
    let sessionCache: TLSSessionCache?
    /// This connection's entry in `sessionCache`: the upstream and `expectedPeer`.
    let sessionKey: TLSSessionCache.Key

    enum Phase {
        case handshaking
        case open
        /// We sent close_notify; reading continues until the peer's arrives.
        case closing
        /// The peer sent close_notify.
        case closed
        case failed(TLSError)
    }
    var phase = Phase.handshaking
    /// Whether the first received byte has been checked for plaintext.
    var checkedFirstByte = false

    // Verdicts recorded by callbacks during the handshake (TLSCallbacks).
    var refusal: TLSError?
    var chainError: TLSFailureClassifier.ChainError?
    /// The identity the verify callback accepted; published as `peerIdentity` only if the
    /// handshake then completes (a later step, such as CertificateVerify, can still fail).
    var verifiedPeer: SPIFFEID?

    /// The peer's SPIFFE ID once the handshake completed (also on a resumed session).
    public internal(set) var peerIdentity: SPIFFEID?
    /// The ALPN protocol agreed on, once the handshake completed.
    public internal(set) var negotiatedALPN: String?
    /// The TLS version agreed on, once the handshake completed.
    public internal(set) var protocolVersion: TLSProtocolVersion?
    /// True when the handshake resumed an earlier session.
    public internal(set) var sessionReused = false

    /// Largest plaintext given to one `SSL_write`: one full-size record.
    static let maxRecordPlaintext = 16 * 1024

    /// Makes a connection in `context`'s role.
    ///
    /// - Parameters:
    ///   - expectedPeer: the exact identity the peer must present (a sidecar's expected
    ///     gateway identity, from the `Link` or the endpoint's annotation).
    ///   - sessionCache: client only: offers the last session for `upstreamKey` made by a
    ///     connection with the same `expectedPeer`, and keeps the new ones. Nil disables
    ///     resumption.
    ///   - upstreamKey: names the upstream in `sessionCache`, e.g. `10.0.2.10:15443`. The
    ///     cache adds `expectedPeer` itself.
    public init(context: TLSContext, expectedPeer: SPIFFEID? = nil, sessionCache: TLSSessionCache? = nil, upstreamKey: String = "") {
        guard let ssl = SSL_new(context.ctx) else { preconditionFailure("SSL_new failed: out of memory") }
        self.context = context
        self.expectedPeer = expectedPeer
        self.ssl = ssl
        self.sessionCache = context.role == .client ? sessionCache : nil
        self.sessionKey = TLSSessionCache.Key(upstream: upstreamKey, expectedPeer: expectedPeer)
        let bio = RecordBIO.make(over: records)
        SSL_set_bio(ssl, bio, bio)  // one BIO for both directions; the SSL owns it
        TLSCallbacks.attach(self, to: ssl)
        // Chain verification judges validity at the context's clock too, so full and
        // resumed handshakes agree on what "now" is.
        X509_VERIFY_PARAM_set_time(SSL_get0_param(ssl), time_t(context.clock.now))
        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let cache = self.sessionCache, let session = cache.session(for: sessionKey, context: context) {
                _ = SSL_set_session(ssl, session)  // takes its own reference
            }
        }
    }

    deinit {
        // SSL_free makes the session of a connection that never sent close_notify
        // unresumable (a TLS 1.0 rule that TLS 1.1 dropped). A pooled connection closed
        // without ceremony is healthy, so its session stays resumable; a failed one was
        // already invalidated by OpenSSL when the fatal alert went out.
        if case .failed = phase {} else {
            SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN)
        }
        SSL_free(ssl)  // frees the BIO too; no callback runs after this
    }

    // MARK: Ciphertext

    /// Buffers ciphertext received from the peer (copied; `bytes` may be reused at once).
    public func feed(_ ciphertext: UnsafeRawBufferPointer) {
        records.feed(ciphertext)
    }

    /// Tells the connection the transport reached end of stream: once the buffered bytes
    /// are used, OpenSSL sees EOF (`.closed` after close_notify; otherwise
    /// `closed-during-handshake` or `unexpected-eof`).
    public func receivedEndOfStream() {
        records.endOfStream = true
    }

    /// Lets go of record buffers that hold nothing still needed. The owner calls this for
    /// idle connections after their output was written (a read alone cannot: the last
    /// records may still be queued for the socket then).
    public func releaseIdleBuffers() {
        records.releaseIdleBuffers()
    }

    /// Moves every ciphertext byte produced so far to the end of `queue`, by reference to
    /// chunks this connection filled (no copy). Call after each step, including a failed
    /// one (an alert for the peer may be waiting).
    public func takeCiphertext(into queue: inout OutputQueue) {
        records.moveOutput(into: &queue)
    }

    /// Ciphertext bytes produced and not yet taken.
    public var pendingCiphertext: Int { records.pendingOutput }

    // MARK: Handshake

    /// Advances the handshake with the ciphertext fed so far.
    public func handshake() -> TLSHandshakeState {
        switch phase {
        case .failed(let error): return .failed(error)
        case .open, .closing, .closed: return .complete
        case .handshaking: break
        }
        if !checkedFirstByte, let first = records.firstByte {
            checkedFirstByte = true
            if let error = plaintextProbe(first) { return .failed(fail(error)) }
        }
        OpenSSLErrorQueue.clear()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return finishHandshake() }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .needsIO
        case SSL_ERROR_ZERO_RETURN:
            return .failed(fail(TLSError(reason: .closedDuringHandshake, detail: "peer sent close_notify during the handshake")))
        default:
            return .failed(fail(classifyFailure()))
        }
    }

    // MARK: Plaintext

    /// Decrypts into `buffer` (which must not be empty). Drives the handshake first if it
    /// has not completed.
    public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) -> TLSReadResult {
        precondition(!buffer.isEmpty, "readPlaintext needs room for at least one byte")
        switch phase {
        case .failed(let error): return .failed(error)
        case .closed: return .closed
        case .handshaking:
            switch handshake() {
            case .complete: break
            case .needsIO: return .wantMore
            case .failed(let error): return .failed(error)
            }
        case .open, .closing: break
        }
        OpenSSLErrorQueue.clear()
        var count = 0
        let rc = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if rc == 1 { return .bytes(count) }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            records.releaseIdleBuffers()
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            phase = .closed
            return .closed
        default:
            return .failed(fail(classifyFailure()))
        }
    }

    /// Encrypts `bytes` in records of up to 16 KiB and returns how many were accepted: all
    /// of them on an open connection, 0 before the handshake completes, after `shutdown()`
    /// or close_notify, or after a failure (then `readPlaintext` reports it). Each call ends
    /// a record: for many small pieces use `writePlaintext(draining:)`, which packs them.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard case .open = phase, let base = bytes.baseAddress else { return 0 }
        var offset = 0
        while offset < bytes.count {
            var written = 0
            OpenSSLErrorQueue.clear()
            let rc = SSL_write_ex(ssl, base + offset, min(Self.maxRecordPlaintext, bytes.count - offset), &written)
            if rc != 1 {
                let code = SSL_get_error(ssl, rc)
                if code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE { _ = fail(classifyFailure()) }
                return offset
            }
            offset += written
        }
        return offset
    }

    // MARK: Closing

    /// Queues close_notify (take the ciphertext and write it). Further writes are refused;
    /// `readPlaintext` reports `.closed` when the peer's close_notify arrives. Before the
    /// handshake completes this abandons the connection (`closed-during-handshake`).
    public func shutdown() {
        switch phase {
        case .handshaking:
            _ = fail(TLSError(reason: .closedDuringHandshake, detail: "shut down locally before the handshake completed"))
        case .open, .closed:
            if SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0 {
                OpenSSLErrorQueue.clear()
                _ = SSL_shutdown(ssl)
                OpenSSLErrorQueue.clear()
            }
            if case .open = phase { phase = .closing }
        case .closing, .failed:
            break
        }
    }

    // MARK: Failure

    /// Records `error` as final and returns it. A client forgets the session it would
    /// resume for this upstream and identity: whatever went wrong, the next attempt starts
    /// with a full handshake.
    func fail(_ error: TLSError) -> TLSError {
        phase = .failed(error)
        sessionCache?.removeSession(for: sessionKey)
        return error
    }

    private func classifyFailure() -> TLSError {
        TLSFailureClassifier.classify(
            refusal: refusal,
            chainError: chainError,
            verifyResult: SSL_get_verify_result(ssl),
            entries: OpenSSLErrorQueue.drain(),
            handshakeComplete: !isHandshaking
        )
    }

    private var isHandshaking: Bool {
        if case .handshaking = phase { return true }
        return false
    }

    /// A first byte in printable ASCII cannot start a TLS record (content types are
    /// 20-24): the peer speaks plaintext, most likely HTTP/1.1 or the HTTP/2 preface.
    private func plaintextProbe(_ first: UInt8) -> TLSError? {
        guard first >= 0x20 && first < 0x7F else { return nil }
        let sample = records.peekInput(limit: 24).prefix { $0 >= 0x20 && $0 < 0x7F }
        return TLSError(reason: .notTLS, detail: "peer sent plaintext \"\(String(decoding: sample, as: UTF8.self))\" instead of a TLS record")
    }
}
