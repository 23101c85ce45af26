import COpenSSL

/// Turns what OpenSSL reports about a failed call into one `TLSError`.
///
/// Sources, most specific first: a refusal our own callbacks recorded (identity, ALPN);
/// the chain verification error; the SSL library reason (an alert the peer sent is reason
/// `SSL_AD_REASON_OFFSET + alert`); otherwise a protocol error.
enum TLSFailureClassifier {
    /// The first chain problem the verify callback saw.
    struct ChainError: Equatable {
        /// `X509_V_ERR_...`.
        let code: Int32
        /// 0 is the peer's own certificate, 1 its intermediate, ...
        let depth: Int32
    }

    static func classify(
        refusal: TLSError?,
        chainError: ChainError?,
        verifyResult: Int,
        entries: [OpenSSLErrorEntry],
        handshakeComplete: Bool
    ) -> TLSError {
        if let refusal { return refusal }
        let openSSLText = entries.map(\.text).joined(separator: "; ")
        for entry in entries where entry.library == ERR_LIB_SSL {
            let code = entry.reason
            if code == SSL_R_CERTIFICATE_VERIFY_FAILED {
                return chainFailure(chainError ?? ChainError(code: Int32(verifyResult), depth: -1), openSSLText: openSSLText)
            }
            if code >= SSL_AD_REASON_OFFSET {
                return TLSError(reason: reasonForReceivedAlert(code - SSL_AD_REASON_OFFSET), detail: "peer sent alert: \(openSSLText)")
            }
            if let reason = reasonForSSLError(code, handshakeComplete: handshakeComplete) {
                return TLSError(reason: reason, detail: openSSLText)
            }
        }
        if entries.isEmpty {
            return TLSError(reason: .internalError, detail: "OpenSSL failed with an empty error queue")
        }
        return TLSError(reason: .protocolError, detail: openSSLText)
    }

    /// A chain that did not verify, by `X509_V_ERR_...` code.
    static func chainFailure(_ error: ChainError, openSSLText: String) -> TLSError {
        let reason: TLSFailureReason = switch error.code {
        case X509_V_ERR_CERT_HAS_EXPIRED: .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID: .certificateNotYetValid
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
             X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_CERT_UNTRUSTED:
            .unknownCA
        default: .badCertificate
        }
        let what = String(cString: X509_verify_cert_error_string(Int(error.code)))
        let position = switch error.depth {
        case 0: " in the peer's certificate"
        case 1: " in the peer's intermediate"
        case let d where d > 1: " at chain depth \(d)"
        default: ""
        }
        return TLSError(reason: reason, detail: "\(what)\(position) (\(openSSLText))")
    }

    /// An alert the peer sent, by TLS alert number (RFC 8446 §6).
    private static func reasonForReceivedAlert(_ alert: Int32) -> TLSFailureReason {
        switch alert {
        case 42, 43, 44, 45, 46, 48, 49, 116:
            // bad_certificate, unsupported_certificate, certificate_revoked/expired/unknown,
            // unknown_ca, access_denied, certificate_required: it refused our certificate.
            .peerRejectedCertificate
        case 120: .alpnNotH2  // no_application_protocol
        case 70: .unsupportedVersion  // protocol_version
        case 40, 71: .handshakeFailure  // handshake_failure, insufficient_security
        default: .protocolError
        }
    }

    /// SSL library reasons that mean more than "protocol error".
    private static func reasonForSSLError(_ code: Int32, handshakeComplete: Bool) -> TLSFailureReason? {
        switch code {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: .noPeerCertificate
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST: .notTLS
        case SSL_R_UNEXPECTED_EOF_WHILE_READING: handshakeComplete ? .unexpectedEOF : .closedDuringHandshake
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_VERSION_TOO_LOW: .unsupportedVersion
        // NO_SUITABLE_KEY_SHARE: a TLS 1.3 client offered no key exchange group we accept.
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SHARED_GROUPS, SSL_R_NO_SUITABLE_KEY_SHARE, SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
            .handshakeFailure
        case SSL_R_NO_APPLICATION_PROTOCOL: .alpnNotH2
        default: nil
        }
    }
}
