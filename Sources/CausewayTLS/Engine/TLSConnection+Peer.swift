import COpenSSL

/// The peer checks: what the callbacks record during the handshake, and the checks made
/// when it completes (which also cover resumed sessions, where no certificate is sent).
extension TLSConnection {
    /// Verify callback, depth 0, chain already verified: applies the identity rule to the
    /// leaf. Returns false (and records why) to refuse it.
    func acceptPeerCertificate(_ leaf: OpaquePointer) -> Bool {
        switch checkLeaf(leaf) {
        case .success(let id):
            verifiedPeer = id
            return true
        case .failure(let error):
            refusal = error
            return false
        }
    }

    /// The identity rule for a peer's leaf: not a CA (an X.509 SVID leaf has CA:FALSE), and
    /// exactly one SPIFFE ID, in our trust domain, equal to `expectedPeer` when set.
    private func checkLeaf(_ leaf: OpaquePointer) -> Result<SPIFFEID, TLSError> {
        if X509_check_ca(leaf) != 0 {
            return .failure(TLSError(reason: .badCertificate, detail: "peer presented a CA certificate as its own"))
        }
        do {
            return .success(try PeerIdentityRule.check(uris: GeneralNames.uris(of: leaf), trustDomain: context.trustDomain, expected: expectedPeer))
        } catch {
            return .failure(Self.refusal(for: error))
        }
    }

    /// Verify callback: the chain failed; keeps the first problem (with its depth) for
    /// the error, since SSL_get_verify_result only keeps the last.
    func noteChainError(code: Int32, depth: Int32) {
        if chainError == nil { chainError = TLSFailureClassifier.ChainError(code: code, depth: depth) }
    }

    /// Server ALPN callbacks: the client offered none of our protocols (nil: no ALPN).
    func refuseALPN(offered: [String]?) {
        let wanted = context.applicationProtocols.joined(separator: ", ")
        let detail = offered.map { "client offered ALPN [\($0.joined(separator: ", "))], we require \(wanted)" }
            ?? "client offered no ALPN, we require \(wanted)"
        refusal = TLSError(reason: .alpnNotH2, detail: detail)
    }

    /// New-session callback (client): keeps `session` for this upstream and expected
    /// identity. Returns true when the cache took over the reference. A session that cannot
    /// be resumed (a TLS 1.2 server with neither ticket nor session cache, such as ours)
    /// is not kept: it would only displace nothing with nothing.
    func storeSession(_ session: OpaquePointer) -> Bool {
        guard let cache = sessionCache, SSL_SESSION_is_resumable(session) == 1 else { return false }
        cache.store(session, for: sessionKey, context: context)
        return true
    }

    /// Runs once SSL_do_handshake succeeds: records what was agreed and enforces ALPN and
    /// the identity rule (again, for a resumed session the verify callback never saw). A
    /// resumed session's peer certificate must also still be valid at the context's clock:
    /// resumption skips chain verification, so without this a certificate that expired
    /// after the full handshake would keep being accepted for the session's lifetime.
    func finishHandshake() -> TLSHandshakeState {
        sessionReused = SSL_session_reused(ssl) == 1
        protocolVersion = TLSProtocolVersion(rawValue: Int(SSL_version(ssl)))
        var alpn: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpn, &alpnLength)
        if let alpn, alpnLength > 0 {
            negotiatedALPN = String(decoding: UnsafeBufferPointer(start: alpn, count: Int(alpnLength)), as: UTF8.self)
        }
        if !context.applicationProtocols.isEmpty, !context.applicationProtocols.contains(where: { $0 == negotiatedALPN }) {
            return refuseAfterHandshake(TLSError(
                reason: .alpnNotH2,
                detail: "peer agreed on \(negotiatedALPN.map { "ALPN \($0)" } ?? "no ALPN"), we require \(context.applicationProtocols.joined(separator: ", "))"
            ))
        }
        if verifiedPeer == nil || sessionReused {
            guard let leaf = SSL_get0_peer_certificate(ssl) else {
                return refuseAfterHandshake(TLSError(reason: .noPeerCertificate, detail: "peer presented no certificate"))
            }
            switch checkLeaf(leaf) {
            case .success(let id): verifiedPeer = id
            case .failure(let error): return refuseAfterHandshake(error)
            }
            if sessionReused, let error = checkResumedValidity(leaf) {
                verifiedPeer = nil
                return refuseAfterHandshake(error)
            }
        }
        peerIdentity = verifiedPeer
        phase = .open
        return .complete
    }

    /// The validity rule for a resumed session's peer certificate, at the context's clock.
    /// Nil when valid.
    private func checkResumedValidity(_ leaf: OpaquePointer) -> TLSError? {
        let now = context.clock.now
        switch CertificateTimes.standing(of: leaf, at: now) {
        case .valid:
            return nil
        case .expired:
            return TLSError(reason: .certificateExpired, detail: "resumed session: the peer's certificate expired (notAfter \(CertificateTimes.notAfterText(leaf)), now \(CertificateTimes.text(epochSeconds: now)))")
        case .notYetValid:
            return TLSError(reason: .certificateNotYetValid, detail: "resumed session: the peer's certificate is not valid yet (notBefore \(CertificateTimes.notBeforeText(leaf)), now \(CertificateTimes.text(epochSeconds: now)))")
        case .unreadable:
            return TLSError(reason: .badCertificate, detail: "resumed session: the peer's certificate has a validity period OpenSSL cannot read")
        }
    }

    /// A refusal OpenSSL had no alert for: close_notify tells the peer we are done.
    private func refuseAfterHandshake(_ error: TLSError) -> TLSHandshakeState {
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
        return .failed(fail(error))
    }

    static func refusal(for error: PeerIdentityError) -> TLSError {
        let reason: TLSFailureReason = switch error {
        case .noSPIFFEID: .noSPIFFEID
        case .multipleSPIFFEIDs, .multipleURISANs, .invalidSPIFFEID: .invalidSPIFFEID
        case .foreignTrustDomain: .foreignTrustDomain
        case .identityMismatch: .identityMismatch
        }
        return TLSError(reason: reason, detail: error.description)
    }
}
