/// A SPIFFE ID naming a workload: `spiffe://<trust-domain>/<path>` (SPIFFE ID standard §2).
///
/// Parsing is as strict as the standard and as go-spiffe: lowercase scheme and trust domain,
/// no user info, port, query or fragment, no percent-encoding, no empty, `.` or `..` path
/// segments, no trailing `/`. Parsed IDs therefore have one spelling, and two IDs are equal
/// exactly when their texts are, so `description` can be compared with a certificate's URI SAN
/// byte for byte.
///
/// Known simplification: the trust-domain ID (`spiffe://mesh.local`, with no path) is refused;
/// every ID in configuration names a workload or a gateway.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    /// The trust domain, e.g. `mesh.local`: 1...255 of `a-z 0-9 . - _`.
    public let trustDomain: String
    /// The path, starting with `/`, e.g. `/ns/mesh-system/sa/cluster2-gateway`. Never just `/`.
    public let path: String

    /// The standard's limit on a whole ID (it must fit a URI SAN), in bytes.
    public static let maxLength = 2048
    /// The standard's limit on a trust domain, in bytes.
    public static let maxTrustDomainLength = 255

    /// Why a text is not a SPIFFE ID; `message` is a clause fit for a `ConfigProblem`
    /// ("the trust domain must not have a port").
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the text.
        public let message: String
        /// Same as `message`.
        public var description: String { message }
    }

    /// Parses `spiffe://<trust-domain>/<path>`.
    public init(parsing text: String) throws(ParseError) {
        let scheme = "spiffe://"
        guard text.utf8.count <= Self.maxLength else {
            throw ParseError(message: "it is longer than \(Self.maxLength) bytes")
        }
        guard text.hasPrefix(scheme) else {
            if text.lowercased().hasPrefix(scheme) {
                throw ParseError(message: "the scheme must be written in lowercase, spiffe://")
            }
            throw ParseError(message: "it must start with spiffe://")
        }
        if text.contains("?") || text.contains("#") {
            throw ParseError(message: "it must not have a query (?) or a fragment (#)")
        }
        let rest = text.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = rest[slash...]
        if authority.contains("@") {
            throw ParseError(message: "the trust domain must not have user info (@)")
        }
        if authority.contains(":") {
            throw ParseError(message: "the trust domain must not have a port")
        }
        guard !authority.isEmpty else {
            throw ParseError(message: "the trust domain is missing")
        }
        guard Self.isValidTrustDomain(String(authority)) else {
            throw ParseError(
                message: "the trust domain \"\(authority)\" may only hold lowercase letters, digits, '.', '-' and '_' (at most 255)")
        }
        guard path.count > 1 else {
            throw ParseError(message: "it needs a path naming a workload, e.g. spiffe://\(authority)/ns/default/sa/name")
        }
        guard path.last != "/" else {
            throw ParseError(message: "the path must not end with '/'")
        }
        for segment in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty else {
                throw ParseError(message: "the path must not have empty segments (//)")
            }
            guard segment != ".", segment != ".." else {
                throw ParseError(message: "the path must not have '.' or '..' segments")
            }
            guard segment.utf8.allSatisfy(Self.isPathByte) else {
                throw ParseError(message: "the path segment \"\(segment)\" may only hold letters, digits, '.', '-' and '_'")
            }
        }
        self.trustDomain = String(authority)
        self.path = String(path)
    }

    /// Parses `spiffe://<trust-domain>/<path>`; nil if `text` is not a workload SPIFFE ID.
    public init?(_ text: String) {
        guard let parsed = try? SPIFFEID(parsing: text) else { return nil }
        self = parsed
    }

    /// `spiffe://<trust-domain><path>`: the only spelling of this ID.
    public var description: String { "spiffe://\(trustDomain)\(path)" }

    /// True for a valid SPIFFE trust domain name: 1...255 of `a-z 0-9 . - _` (§2.1).
    public static func isValidTrustDomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxTrustDomainLength else { return false }
        return name.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }

    /// Path segment bytes (§2.2): letters of either case, digits, `.`, `-`, `_`.
    private static func isPathByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }
}
