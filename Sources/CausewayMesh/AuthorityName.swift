/// Normalises an HTTP `:authority` (or `Host`) into the name part that service aliases are
/// matched against, and hashes it in the same pass.
///
/// Rules, as Kubernetes DNS and HTTP have them: a `:port` suffix (`*DIGIT`, RFC 3986) is
/// dropped; ASCII letters compare case-insensitively; one trailing dot (an absolute DNS name)
/// is dropped. Nothing is copied: the result is a byte count into the caller's buffer plus a
/// hash of the lowercased bytes, so the lookup path never allocates.
struct AuthorityName {
    /// Number of leading bytes of the authority that form the name (port and trailing dot
    /// excluded). Never zero.
    let length: Int
    /// FNV-1a of the lowercased name bytes, identical to `AliasHash.hash` of the alias.
    let hash: UInt64

    /// Scans `authority` once. Returns nil when no service name can match: empty input, an
    /// IP-literal form (`[::1]:8080`, which names an address, never a service), a malformed
    /// port, or a name longer than `maxLength` (after the optional trailing dot).
    init?(_ authority: UnsafeRawBufferPointer, maxLength: Int) {
        let count = authority.count
        guard count > 0 else { return nil }
        // A bracketed IPv6 literal, with or without a port, is an address; no alias has brackets.
        if authority[0] == UInt8(ascii: "[") { return nil }

        var hash = AliasHash.offsetBasis
        var hashBeforeLastByte = hash
        var nameEnd = count
        var i = 0
        while i < count {
            let byte = authority[i]
            if byte == UInt8(ascii: ":") {
                nameEnd = i
                break
            }
            // The longest alias plus one trailing dot; longer names cannot match, and stopping
            // here bounds the work an oversized header can cause.
            guard i <= maxLength else { return nil }
            hashBeforeLastByte = hash
            hash = AliasHash.combine(hash, AliasHash.lowercase(byte))
            i += 1
        }
        // Everything after the ':' must be the port: digits only (empty is allowed by RFC 3986).
        var j = nameEnd + 1
        while j < count {
            let byte = authority[j]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            j += 1
        }
        var length = nameEnd
        if length > 0, authority[length - 1] == UInt8(ascii: ".") {
            length -= 1
            hash = hashBeforeLastByte
        }
        guard length > 0, length <= maxLength else { return nil }
        self.length = length
        self.hash = hash
    }
}

/// The hash shared by alias building and authority scanning: 64-bit FNV-1a, byte at a time,
/// so it can be folded in while scanning without a normalised copy.
enum AliasHash {
    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always)
    static func combine(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* prime
    }

    /// ASCII lowercase; other bytes (including UTF-8 continuation bytes) unchanged.
    @inline(__always)
    static func lowercase(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h = offsetBasis
        for byte in bytes { h = combine(h, lowercase(byte)) }
        return h
    }
}

/// The port part of an HTTP authority (`name:8080`, `[::1]:8080`).
public enum AuthorityPort {
    /// The port after the last ':' that follows the host (after `]` for an IPv6 literal),
    /// or nil when there is none or it is not a number in 1...65535.
    public static func parse(_ authority: UnsafeRawBufferPointer) -> UInt16? {
        var colon = -1
        for i in stride(from: authority.count - 1, through: 0, by: -1) {
            let byte = authority[i]
            if byte == UInt8(ascii: ":") { colon = i; break }
            if byte == UInt8(ascii: "]") { return nil }
        }
        guard colon >= 0, colon + 1 < authority.count, authority.count - colon - 1 <= 5 else { return nil }
        var value = 0
        for i in (colon + 1)..<authority.count {
            let digit = Int(authority[i]) - 48
            guard digit >= 0, digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value >= 1 && value <= 65_535 ? UInt16(value) : nil
    }
}
