import COpenSSL

/// The last TLS session per upstream and expected identity, for resuming on the next
/// connection to it (a resumed handshake skips certificate exchange and verification: far
/// cheaper in OpenSSL 3).
///
/// Entries are keyed by the upstream's address *and* the identity the connection expects
/// (`TLSConnection.expectedPeer`), so a session verified for one identity is never offered
/// to a connection expecting another: whatever sits at that address, a connection that
/// expects B makes its own full handshake and verifies B.
///
/// One cache per worker (it is not thread-safe, and needs no lock that way). A session is
/// only offered to a connection made from the same `TLSContext` that obtained it, so after a
/// reload the new certificates are presented on the next handshake, and only while the
/// context's clock says it is usable: within its lifetime (`TLSContext.sessionLifetime`,
/// which the server also announces as the ticket lifetime) and with the peer certificate it
/// holds still valid. Otherwise the connection makes a full handshake, which sees the
/// peer's current certificate, rather than resuming into a refusal. At most `capacity`
/// entries are remembered; past that an arbitrary one is dropped.
///
/// OpenSSL offers a TLS 1.3 session only once (tickets are single-use, as RFC 8446 advises);
/// the resumed connection receives a fresh ticket on its first read, which replaces it. So
/// connections opened one after another keep resuming, while a second connection opened
/// before the first has read its ticket makes a full handshake. A failed handshake drops
/// its entry. TLS 1.2 connections are not resumed (see `TicketPolicy`).
public final class TLSSessionCache {
    /// What a session is filed under: the upstream and the identity the connection that
    /// obtained it expected (nil: any identity in the trust domain).
    struct Key: Hashable {
        let upstream: String
        let expectedPeer: SPIFFEID?
    }

    /// Entries remembered at most.
    public let capacity: Int
    private var entries: [Key: StoredSession] = [:]

    /// - Parameter capacity: entries (upstream and expected identity) remembered at most
    ///   (at least 1).
    public init(capacity: Int = 1024) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    /// Entries with a stored session.
    public var count: Int { entries.count }

    /// Forgets every session.
    public func removeAll() { entries.removeAll() }

    /// Forgets `upstream`'s sessions, whatever identity they were made for (e.g. after its
    /// gateway's identity changed).
    public func removeSession(for upstream: String) {
        entries = entries.filter { $0.key.upstream != upstream }
    }

    /// Forgets the session filed under `key`.
    func removeSession(for key: Key) { entries[key] = nil }

    /// The session for `key` obtained through `context`, borrowed, if it can be offered
    /// now (`context.clock`): resumable, not older than its timeout, and holding a peer
    /// certificate that is valid. An entry that cannot be offered is dropped.
    func session(for key: Key, context: TLSContext) -> OpaquePointer? {
        guard let entry = entries[key] else { return nil }
        guard entry.context === context, SSL_SESSION_is_resumable(entry.session) == 1,
              SessionTimes.isCurrent(entry.session, at: context.clock.now)
        else {
            entries[key] = nil
            return nil
        }
        return entry.session
    }


    /// Keeps `session` (taking over the caller's reference) as the latest for `key`.
    func store(_ session: OpaquePointer, for key: Key, context: TLSContext) {
        if entries[key] == nil && entries.count >= capacity, let victim = entries.keys.first {
            entries[victim] = nil
        }
        entries[key] = StoredSession(session: session, context: context)
    }
}

/// One owned `SSL_SESSION` reference, freed with the entry.
private final class StoredSession {
    let session: OpaquePointer
    /// Weak: a cache must not keep a replaced context (and its certificates) alive.
    weak var context: TLSContext?

    init(session: OpaquePointer, context: TLSContext) {
        self.session = session
        self.context = context
    }

    deinit { SSL_SESSION_free(session) }
}
