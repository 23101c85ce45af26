/// An IPv4 or IPv6 address, parsed from its text form and printed canonically.
///
/// Canonical text is what makes two spellings of one address (`::1` and `0:0::1`) compare equal,
/// so endpoint lists can be deduplicated on it. IPv4 is dotted decimal; IPv6 follows RFC 5952
/// (lowercase hex, no leading zeros, the longest run of two or more zero groups shortened to
/// `::`, IPv4-mapped addresses with a dotted tail), which is also what `inet_ntop` prints.
///
/// Known simplification: IPv6 zone identifiers (`fe80::1%eth0`) are not accepted.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The IP version.
    public let family: AddressFamily
    /// High 64 bits of the address in host order; 0 for IPv4.
    private let high: UInt64
    /// Low 64 bits of the address in host order; the IPv4 address in the low 32 bits for IPv4.
    private let low: UInt64

    /// Parses an IP literal without brackets or port: `10.1.0.5`, `::1`, `2001:db8::5`,
    /// `::ffff:10.0.0.1`. Returns nil for anything else, including IPv4 parts with leading zeros
    /// (`010.0.0.1`, ambiguous between octal and decimal, rejected by `inet_pton` too).
    public init?(_ text: String) {
        guard let parsed = IPAddressParser.parse(Array(text.utf8)) else { return nil }
        self.family = parsed.family
        self.high = parsed.high
        self.low = parsed.low
    }

    init(family: AddressFamily, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .ipv4:
            let v = UInt32(truncatingIfNeeded: low)
            return [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        case .ipv6:
            var out: [UInt8] = []
            out.reserveCapacity(16)
            for word in [high, low] {
                for shift in stride(from: 56, through: 0, by: -8) {
                    out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
                }
            }
            return out
        }
    }

    /// Canonical text form, without brackets.
    public var description: String {
        switch family {
        case .ipv4:
            return Self.dotted(UInt32(truncatingIfNeeded: low))
        case .ipv6:
            return formatIPv6()
        }
    }

    private static func dotted(_ v: UInt32) -> String {
        "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
    }

    private func formatIPv6() -> String {
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * i))
            groups[i + 4] = UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * i))
        }
        // IPv4-mapped (::ffff:a.b.c.d): RFC 5952 §5 keeps the dotted tail, as inet_ntop does.
        if high == 0, groups[4] == 0, groups[5] == 0xffff {
            return "::ffff:" + Self.dotted(UInt32(truncatingIfNeeded: low))
        }
        // Longest run of zero groups (length >= 2); the first one wins a tie (RFC 5952 §4.2.3).
        var bestStart = -1, bestLength = 0
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > bestLength, j - i >= 2 { bestStart = i; bestLength = j - i }
            i = j
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
