import CausewayMesh

/// A CIDR range virtual IPs are taken from (`240.240.0.0/16`, `fd00:ca05::/48`).
///
/// The first and last address of the range are never handed out (network and broadcast
/// addresses in IPv4; in IPv6 the first is the subnet-router anycast address), so a range
/// of `2^h` addresses holds `2^h - 2` virtual IPs; an IPv6 range of 2^64 addresses or more
/// uses only its first 2^64, less the first and the last of those.
public struct VirtualIPRange: Sendable, Equatable, CustomStringConvertible {
    public let family: AddressFamily
    /// The network address, high and low 64 bits (IPv4 in the low 32 bits of `low`).
    private let high: UInt64
    private let low: UInt64
    public let prefixLength: Int

    /// The default range, as Istio's automatic allocation uses: 65,534 addresses in the
    /// reserved class E space, which no real host or Service uses.
    public static let defaultIPv4 = try! VirtualIPRange(parsing: "240.240.0.0/16")

    /// Prefix lengths accepted: at least 2 usable addresses, and not a large share of the
    /// address space.
    public static let ipv4Prefixes = 8...30
    public static let ipv6Prefixes = 8...126

    /// Why a text is not a range; `message` is a sentence for a configuration problem.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Parses `ADDRESS/PREFIX`. The address must be the network address (no host bits
    /// set), so what is written is what is used.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ParseError(message: "\"\(text)\" is not a CIDR range such as 240.240.0.0/16")
        }
        guard let address = IPAddress(String(parts[0])) else {
            throw ParseError(message: "\"\(parts[0])\" in \"\(text)\" is not an IP address")
        }
        let bits = address.family == .ipv4 ? 32 : 128
        let allowed = address.family == .ipv4 ? Self.ipv4Prefixes : Self.ipv6Prefixes
        guard let prefix = Int(parts[1]), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), parts[1].count <= 3, prefix <= bits else {
            throw ParseError(message: "prefix length \"\(parts[1])\" in \"\(text)\" must be a number from 0 to \(bits)")
        }
        guard allowed.contains(prefix) else {
            throw ParseError(message: "prefix length /\(prefix) in \"\(text)\" is out of range: must be between /\(allowed.lowerBound) and /\(allowed.upperBound)")
        }
        let (high, low) = Self.words(address.bytes)
        let (maskHigh, maskLow) = Self.hostMask(prefix: prefix, bits: bits)
        guard high & maskHigh == 0, low & maskLow == 0 else {
            let network = Self.text(family: address.family, high: high & ~maskHigh, low: low & ~maskLow)
            throw ParseError(message: "\"\(text)\" has host bits set; write \(network)/\(prefix)")
        }
        self.family = address.family
        self.high = high
        self.low = low
        self.prefixLength = prefix
    }

    /// How many virtual IPs the range holds: its addresses but the first and the last
    /// (at most 2^64 - 2).
    public var capacity: UInt64 {
        let hostBits = (family == .ipv4 ? 32 : 128) - prefixLength
        return hostBits >= 64 ? UInt64.max - 1 : (UInt64(1) << UInt64(hostBits)) - 2
    }

    /// The address of virtual IP number `index` (`0..<capacity`): the range's
    /// `index + 1`-th address, in network byte order (4 or 16 bytes).
    public func address(at index: UInt64) -> [UInt8] {
        precondition(index < capacity, "virtual IP \(index) is outside \(self)")
        // The network address's host bits are zero and index + 1 < 2^hostBits (or < 2^64
        // for larger ranges, whose low word is all host bits), so this never carries.
        let sum = low | (index + 1)
        let h = high
        if family == .ipv4 {
            let v = UInt32(truncatingIfNeeded: sum)
            return [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for word in [h, sum] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// True when `address` (4 or 16 bytes, network order) is inside the range.
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == (family == .ipv4 ? 4 : 16) else { return false }
        let (h, l) = Self.words(address)
        let (maskHigh, maskLow) = Self.hostMask(prefix: prefixLength, bits: family == .ipv4 ? 32 : 128)
        return h & ~maskHigh == high && l & ~maskLow == low
    }

    /// `240.240.0.0/16`.
    public var description: String {
        "\(Self.text(family: family, high: high, low: low))/\(prefixLength)"
    }

    /// The canonical text of an address (4 or 16 bytes).
    public static func text(of address: [UInt8]) -> String {
        let (h, l) = words(address)
        return text(family: address.count == 4 ? .ipv4 : .ipv6, high: h, low: l)
    }

    private static func text(family: AddressFamily, high: UInt64, low: UInt64) -> String {
        if family == .ipv4 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        }
        var groups: [String] = []
        for word in [high, low] {
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(String(UInt16(truncatingIfNeeded: word >> UInt64(shift)), radix: 16))
            }
        }
        // IPAddress prints RFC 5952's canonical form.
        return IPAddress(groups.joined(separator: ":"))?.description ?? groups.joined(separator: ":")
    }

    /// Bytes in network order as (high, low) words; IPv4 in the low 32 bits.
    private static func words(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        var high: UInt64 = 0, low: UInt64 = 0
        if bytes.count == 4 {
            for b in bytes { low = low << 8 | UInt64(b) }
        } else {
            for b in bytes[0..<8] { high = high << 8 | UInt64(b) }
            for b in bytes[8..<16] { low = low << 8 | UInt64(b) }
        }
        return (high, low)
    }

    /// The host part of a `bits`-wide address with `prefix` network bits, as (high, low) masks.
    private static func hostMask(prefix: Int, bits: Int) -> (UInt64, UInt64) {
        if bits == 32 {
            return (0, prefix == 32 ? 0 : (UInt64(1) << UInt64(32 - prefix)) - 1)
        }
        let hostBits = 128 - prefix
        if hostBits >= 64 {
            let highBits = hostBits - 64
            return (highBits == 0 ? 0 : (highBits == 64 ? UInt64.max : (UInt64(1) << UInt64(highBits)) - 1), UInt64.max)
        }
        return (0, hostBits == 0 ? 0 : (UInt64(1) << UInt64(hostBits)) - 1)
    }
}
