import COpenSSL

/// Whether a stored session may still be resumed at a given moment: the bridging file for
/// reading a session's age and the certificate it holds. The client cache asks before
/// offering a session, the server's ticket policy before accepting one, both at the
/// context's clock (OpenSSL's own checks read the system clock).
enum SessionTimes {
    /// True when, at `now` (seconds since the Unix epoch), `session` (borrowed) is within
    /// its timeout and holds a peer certificate inside its validity period. A session
    /// without a peer certificate is never current: the mesh always authenticates the peer.
    static func isCurrent(_ session: OpaquePointer, at now: Int64) -> Bool {
        // The timeout is the context's (`TLSContext.sessionLifetime`) when the session was
        // made; a ticket carries its session's creation time and timeout.
        let expires = Int64(SSL_SESSION_get_time(session)) + Int64(SSL_SESSION_get_timeout(session))
        guard now < expires, let peer = SSL_SESSION_get0_peer(session) else { return false }
        return CertificateTimes.standing(of: peer, at: now) == .valid
    }
}
