import COpenSSL

/// The last TLS session per upstream, for resuming on the next connection to it (a
/// resumed handshake skips certificate exchange and verification: far cheaper in OpenSSL 3).
///
/// One cache per worker (it is not thread-safe, and needs no lock that way). A session is
/// only offered to a connection made from the same `TLSContext` that obtained it, so after a
/// reload the new certificates are presented on the next handshake. At most `capacity`
/// upstreams are remembered; past that an arbitrary entry is dropped.
///
/// OpenSSL offers a TLS 1.3 session only once (tickets are single-use, as RFC 8446 advises);
/// the resumed connection receives a fresh ticket on its first read, which replaces it. So
/// connections opened one after another keep resuming, while a second connection opened
/// before the first has read its ticket makes a full handshake. A failed handshake drops the
/// upstream's session.
public final class TLSSessionCache {
    /// Upstreams remembered at most.
    public let capacity: Int
    private var entries: [String: StoredSession] = [:]

    /// - Parameter capacity: upstreams remembered at most (at least 1).
    public init(capacity: Int = 1024) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    /// Upstreams with a stored session.
    public var count: Int { entries.count }

    /// Forgets every session.
    public func removeAll() { entries.removeAll() }

    /// Forgets `upstream`'s session (e.g. after its gateway's identity changed).
    public func removeSession(for upstream: String) { entries[upstream] = nil }

    /// The resumable session for `upstream` obtained through `context`, borrowed.
    func session(for upstream: String, context: TLSContext) -> OpaquePointer? {
        guard let entry = entries[upstream] else { return nil }
        guard entry.context === context, SSL_SESSION_is_resumable(entry.session) == 1 else {
            entries[upstream] = nil
            return nil
        }
        return entry.session
    }

    /// Keeps `session` (taking over the caller's reference) as `upstream`'s latest.
    func store(_ session: OpaquePointer, for upstream: String, context: TLSContext) {
        if entries[upstream] == nil && entries.count >= capacity, let victim = entries.keys.first {
            entries[victim] = nil
        }
        entries[upstream] = StoredSession(session: session, context: context)
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
