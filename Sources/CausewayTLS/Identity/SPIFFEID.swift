/// A SPIFFE trust domain: the authority part of a SPIFFE ID (`mesh.local`).
///
/// Validated as the SPIFFE ID specification says: 1 to 255 bytes of lowercase letters,
/// digits, `.`, `-` and `_`. Uppercase is refused rather than folded, so that two spellings
/// of one domain can never both appear in certificates.
public struct TrustDomain: Hashable, Sendable, CustomStringConvertible {
    /// The trust domain name, e.g. `mesh.local`.
    public let name: String

    /// Validates `name`.
    /// - Throws: `SPIFFEIDError` naming the first problem.
    public init(_ name: String) throws(SPIFFEIDError) {
        try SPIFFESyntax.checkTrustDomain(Array(name.utf8))
        self.name = name
    }

    public var description: String { name }
}

/// A workload identity, `spiffe://<trust-domain>/<path>`, as carried in the one URI SAN of
/// an X.509 SVID.
///
/// Parsing is strict (the SPIFFE ID specification, as go-spiffe applies it): lowercase
/// `spiffe` scheme, a valid trust domain with no port or user info, a non-empty path of
/// segments made of letters, digits, `.`, `-`, `_` (no empty, `.` or `..` segments, no
/// trailing `/`), no query or fragment, at most 2048 bytes. A bare trust domain
/// (`spiffe://mesh.local`) names no workload and is refused. Comparison is exact.
///
/// The mesh convention is `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    /// The trust domain, e.g. `mesh.local`.
    public let trustDomain: TrustDomain
    /// The path, starting with `/`, e.g. `/ns/production/sa/webapp`.
    public let path: String

    /// Parses `text` as a SPIFFE ID.
    /// - Throws: `SPIFFEIDError` naming the first problem.
    public init(parsing text: String) throws(SPIFFEIDError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= SPIFFESyntax.maximumLength else { throw .tooLong }
        let scheme = Array("spiffe://".utf8)
        guard bytes.starts(with: scheme) else { throw .wrongScheme }
        let rest = bytes[scheme.count...]
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let domain = Array(rest[rest.startIndex..<slash])
        try SPIFFESyntax.checkTrustDomain(domain)
        let path = Array(rest[slash...])
        try SPIFFESyntax.checkPath(path)
        self.trustDomain = try TrustDomain(String(decoding: domain, as: UTF8.self))
        self.path = String(decoding: path, as: UTF8.self)
    }

    /// Builds an ID from its parts; `path` must start with `/`.
    /// - Throws: `SPIFFEIDError` if the path is not valid.
    public init(trustDomain: TrustDomain, path: String) throws(SPIFFEIDError) {
        try SPIFFESyntax.checkPath(Array(path.utf8))
        guard "spiffe://".utf8.count + trustDomain.name.utf8.count + path.utf8.count <= SPIFFESyntax.maximumLength else {
            throw .tooLong
        }
        self.trustDomain = trustDomain
        self.path = path
    }

    /// The mesh's convention for a Kubernetes service account:
    /// `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>`.
    /// - Throws: `SPIFFEIDError` if a part is not a valid path segment.
    public init(trustDomain: TrustDomain, namespace: String, serviceAccount: String) throws(SPIFFEIDError) {
        try self.init(trustDomain: trustDomain, path: "/ns/\(namespace)/sa/\(serviceAccount)")
    }

    /// The URI form, `spiffe://<trust-domain><path>`.
    public var description: String { "spiffe://\(trustDomain.name)\(path)" }
}

/// Why a string is not a SPIFFE ID or trust domain.
public enum SPIFFEIDError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text is empty.
    case empty
    /// More than 2048 bytes (or a trust domain over 255).
    case tooLong
    /// The scheme is not exactly `spiffe://`.
    case wrongScheme
    /// Nothing between `spiffe://` and the path.
    case missingTrustDomain
    /// A character outside `[a-z0-9._-]` in the trust domain; also catches a port (`:`),
    /// user info (`@`), uppercase, and a query or fragment right after the domain.
    case invalidTrustDomainCharacter(Character)
    /// The ID has no path, so it names a trust domain rather than a workload.
    case missingPath
    /// A path given on its own (not parsed from a URI) must start with `/`.
    case pathWithoutLeadingSlash
    /// `//` in the path.
    case emptyPathSegment
    /// A `.` or `..` path segment.
    case dotPathSegment
    /// A character outside `[A-Za-z0-9._-]` in the path; also catches `?` and `#`.
    case invalidPathCharacter(Character)
    /// The path ends with `/`.
    case trailingSlash

    public var description: String {
        switch self {
        case .empty: "empty SPIFFE ID"
        case .tooLong: "SPIFFE ID longer than \(SPIFFESyntax.maximumLength) bytes, or trust domain longer than 255"
        case .wrongScheme: "a SPIFFE ID starts with spiffe:// (lowercase)"
        case .missingTrustDomain: "missing trust domain"
        case .invalidTrustDomainCharacter(let c):
            "trust domain may only hold lowercase letters, digits, '.', '-' and '_' (found \(Self.show(c)); no port, user info, query or fragment)"
        case .missingPath: "missing path: a workload ID looks like spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>"
        case .pathWithoutLeadingSlash: "path must start with '/'"
        case .emptyPathSegment: "empty path segment"
        case .dotPathSegment: "path segments '.' and '..' are not allowed"
        case .invalidPathCharacter(let c):
            "path may only hold letters, digits, '.', '-', '_' and '/' (found \(Self.show(c)); no query or fragment)"
        case .trailingSlash: "trailing '/' in path"
        }
    }

    private static func show(_ c: Character) -> String {
        c.isASCII && !c.isWhitespace ? "'\(c)'" : "U+" + String(c.unicodeScalars.first!.value, radix: 16, uppercase: true)
    }
}

/// The character rules of the SPIFFE ID specification, over UTF-8 bytes.
enum SPIFFESyntax {
    static let maximumLength = 2048

    static func checkTrustDomain(_ bytes: [UInt8]) throws(SPIFFEIDError) {
        guard !bytes.isEmpty else { throw .missingTrustDomain }
        guard bytes.count <= 255 else { throw .tooLong }
        for b in bytes where !isTrustDomainByte(b) {
            throw .invalidTrustDomainCharacter(character(at: b, in: bytes))
        }
    }

    /// `bytes` is the whole path, starting with `/`.
    static func checkPath(_ bytes: [UInt8]) throws(SPIFFEIDError) {
        guard !bytes.isEmpty else { throw .missingPath }
        guard bytes[0] == UInt8(ascii: "/") else { throw .pathWithoutLeadingSlash }
        guard bytes.count > 1 else { throw .trailingSlash }
        var segmentStart = 1
        for i in 1...bytes.count {
            if i == bytes.count || bytes[i] == UInt8(ascii: "/") {
                let segment = bytes[segmentStart..<i]
                if segment.isEmpty { throw i == bytes.count ? .trailingSlash : .emptyPathSegment }
                if segment.elementsEqual([UInt8(ascii: ".")]) || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                    throw .dotPathSegment
                }
                segmentStart = i + 1
            } else if !isPathByte(bytes[i]) {
                throw .invalidPathCharacter(character(at: bytes[i], in: bytes))
            }
        }
    }

    @inline(__always)
    static func isTrustDomainByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    @inline(__always)
    static func isPathByte(_ b: UInt8) -> Bool {
        isTrustDomainByte(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    /// The character a bad byte starts, for error messages (a non-ASCII byte shows its
    /// whole scalar when it decodes).
    private static func character(at b: UInt8, in bytes: [UInt8]) -> Character {
        if b < 0x80 { return Character(Unicode.Scalar(b)) }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.first { !$0.isASCII } ?? "\u{FFFD}"
    }
}
