/// Why a certificate does not carry an identity the mesh accepts.
public enum PeerIdentityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No URI SAN with the `spiffe` scheme.
    case noSPIFFEID
    /// More than one `spiffe` URI SAN: the X.509 SVID rules allow exactly one.
    case multipleSPIFFEIDs(Int)
    /// One `spiffe` URI SAN but other URI SANs beside it (this many in all): an X.509 SVID
    /// has exactly one URI SAN, so which URI names the workload is never a matter of
    /// which one a reader happens to pick.
    case multipleURISANs(Int)
    /// The `spiffe` URI SAN is not a valid workload SPIFFE ID.
    case invalidSPIFFEID(String, SPIFFEIDError)
    /// A valid ID from a trust domain other than ours.
    case foreignTrustDomain(SPIFFEID, expected: TrustDomain)
    /// A valid ID in our trust domain, but not the one this connection expects.
    case identityMismatch(SPIFFEID, expected: SPIFFEID)

    public var description: String {
        switch self {
        case .noSPIFFEID: "certificate has no spiffe:// URI SAN"
        case .multipleSPIFFEIDs(let n): "certificate has \(n) spiffe:// URI SANs; exactly one is allowed"
        case .multipleURISANs(let n): "certificate has \(n) URI SANs; an X.509 SVID has exactly one, its spiffe:// ID"
        case .invalidSPIFFEID(let text, let error): "URI SAN \"\(text)\" is not a valid SPIFFE ID: \(error)"
        case .foreignTrustDomain(let id, let expected): "\(id) is outside trust domain \(expected)"
        case .identityMismatch(let id, let expected): "peer is \(id), expected \(expected)"
        }
    }
}

/// The mesh's identity rule for a peer certificate: exactly one URI SAN, which is a valid
/// `spiffe://` workload ID, in our trust domain, and equal to the expected identity when
/// the connection has one (the X.509-SVID specification, section 2: "An X.509 SVID MUST
/// contain exactly one URI SAN"). DNS and IP SANs may accompany it.
enum PeerIdentityRule {
    /// The SPIFFE ID that is a certificate's one URI SAN. `uris` must hold every URI SAN
    /// of the certificate, in any order: the count is part of the rule.
    static func spiffeID(fromURIs uris: [String]) throws(PeerIdentityError) -> SPIFFEID {
        var found: String?
        var count = 0
        for uri in uris where hasSPIFFEScheme(uri) {
            count += 1
            found = uri
        }
        guard let text = found else { throw .noSPIFFEID }
        guard count == 1 else { throw .multipleSPIFFEIDs(count) }
        guard uris.count == 1 else { throw .multipleURISANs(uris.count) }
        do {
            return try SPIFFEID(parsing: text)
        } catch {
            throw .invalidSPIFFEID(text, error)
        }
    }

    /// Applies the whole rule and returns the peer's identity.
    static func check(uris: [String], trustDomain: TrustDomain, expected: SPIFFEID?) throws(PeerIdentityError) -> SPIFFEID {
        let id = try spiffeID(fromURIs: uris)
        guard id.trustDomain == trustDomain else { throw .foreignTrustDomain(id, expected: trustDomain) }
        if let expected, id != expected { throw .identityMismatch(id, expected: expected) }
        return id
    }

    /// True when `uri`'s scheme is `spiffe` in any case, so that `SPIFFE://...` is counted
    /// (and then refused as malformed) rather than silently ignored.
    private static func hasSPIFFEScheme(_ uri: String) -> Bool {
        let scheme = Array("spiffe:".utf8)
        let bytes = uri.utf8
        guard bytes.count >= scheme.count else { return false }
        return zip(bytes, scheme).allSatisfy { a, b in
            (a >= UInt8(ascii: "A") && a <= UInt8(ascii: "Z") ? a | 0x20 : a) == b
        }
    }
}
