import COpenSSL

/// Which session tickets a server honours and issues: TLS 1.3 ones only, and only while
/// their session is current at the context's clock. The bridging file for OpenSSL's ticket
/// decrypt callback.
///
/// Why no TLS 1.2 tickets: a TLS 1.2 ticket is the session's master secret encrypted under
/// the context's ticket key, and a TLS 1.2 resumption makes no new key exchange. OpenSSL
/// draws that key at random when the context is built and never rotates it, so whoever
/// obtains it later (a core dump of a long-running gateway) can decrypt every recorded TLS
/// 1.2 connection that was resumed from one of its tickets: no forward secrecy. A TLS 1.3
/// ticket is sealed with the same key, but OpenSSL resumes it only together with a fresh
/// (EC)DHE exchange (psk_dhe_ke; `SSL_OP_ALLOW_NO_DHE_KEX` is not set), so traffic keys
/// never follow from the ticket alone. Mesh peers speak TLS 1.3; a TLS 1.2 peer simply makes
/// a full handshake each time (there is no server session cache for session IDs either).
///
/// How: OpenSSL calls the decrypt callback for every ticket a client presents, and in TLS
/// 1.2 also for the empty SessionTicket extension with which a client asks for one.
/// Answering `SSL_TICKET_RETURN_IGNORE` both refuses the ticket and sends none. The option
/// `SSL_OP_NO_TICKET` cannot do this on a server: it also makes TLS 1.3 tickets stateful,
/// which without a server cache would end TLS 1.3 resumption too.
///
/// A decrypted TLS 1.3 ticket is also ignored when its session is not current at the
/// context's clock (`SessionTimes`): older than `TLSContext.sessionLifetime`, or holding a
/// client certificate outside its validity period. The client then makes a full handshake
/// with the certificate it holds now, instead of resuming and being refused when the
/// handshake completes (`TLSConnection.finishHandshake` still checks, for a certificate
/// that runs out in between).
enum TicketPolicy {
    /// Installs the callback on a server context. False if OpenSSL refused it.
    static func install(on ctx: OpaquePointer) -> Bool {
        SSL_CTX_set_session_ticket_cb(ctx, nil, decrypt, nil) == 1
    }

    private static let decrypt: SSL_CTX_decrypt_session_ticket_fn = { ssl, session, _, _, status, _ in
        guard let ssl, SSL_version(ssl) == TLS1_3_VERSION else { return SSL_TICKET_RETURN_IGNORE }
        switch status {
        case SSL_TICKET_SUCCESS, SSL_TICKET_SUCCESS_RENEW:
            guard let session, let connection = TLSCallbacks.connection(of: ssl),
                  SessionTimes.isCurrent(session, at: connection.context.clock.now)
            else { return SSL_TICKET_RETURN_IGNORE_RENEW }
            return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW
        default:
            // Empty or undecryptable: what OpenSSL does without a callback (a full
            // handshake, and a new ticket after it).
            return SSL_TICKET_RETURN_IGNORE_RENEW
        }
    }
}
