/// An IP network in CIDR notation: `240.240.0.0/16`, `169.254.169.254/32`, `fd00::/8`.
///
/// Strict like the rest of the configuration: the address must be a literal `IPAddress`
/// accepts, the length is required (a bare address is refused with the `/32` or `/128` to
/// write), and host bits must be zero (`10.0.0.5/8` is refused with `10.0.0.0/8`), so what
/// is written is exactly the network that is matched, here and in the iptables rules made
/// from it.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// Why a text is not a prefix; `message` is a sentence fit for a configuration problem.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The IP version of the network.
    public let family: AddressFamily
    /// Leading bits that are fixed: 0...32 for IPv4, 0...128 for IPv6.
    public let length: Int
    /// The network address's high 64 bits (IPv6) and low 64 bits (IPv4 in the low 32), host
    /// bits zero, in host order.
    private let high: UInt64
    private let low: UInt64

    /// Parses `ADDRESS/LENGTH`.
    public init(parsing text: String) throws(ParseError) {
        guard let slash = text.firstIndex(of: "/") else {
            if let ip = IPAddress(text) {
                throw ParseError(message: "\"\(text)\" has no prefix length; write \(text)/\(ip.family == .ipv4 ? 32 : 128) for one address")
            }
            throw ParseError(message: "\"\(text)\" is not a CIDR such as 10.0.0.0/8 or fd00::/8")
        }
        let addressText = String(text[..<slash])
        let lengthText = text[text.index(after: slash)...]
        guard let ip = IPAddress(addressText) else {
            throw ParseError(message: "\"\(addressText)\" in \"\(text)\" is not an IP address")
        }
        let maxLength = ip.family == .ipv4 ? 32 : 128
        guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              !(lengthText.count > 1 && lengthText.first == "0"), let length = Int(lengthText), length <= maxLength
        else {
            throw ParseError(message: "prefix length \"\(lengthText)\" in \"\(text)\" must be a number from 0 to \(maxLength)")
        }
        let (high, low) = Self.words(ip)
        let (maskHigh, maskLow) = Self.mask(family: ip.family, length: length)
        guard high & ~maskHigh == 0, low & ~maskLow == 0 else {
            let network = IPPrefix(family: ip.family, length: length, high: high & maskHigh, low: low & maskLow)
            throw ParseError(message: "\"\(text)\" has host bits set; the network is \(network)")
        }
        self.init(family: ip.family, length: length, high: high, low: low)
    }

    /// Parses `ADDRESS/LENGTH`; nil if `text` is not one.
    public init?(_ text: String) {
        guard let parsed = try? IPPrefix(parsing: text) else { return nil }
        self = parsed
    }

    private init(family: AddressFamily, length: Int, high: UInt64, low: UInt64) {
        self.family = family
        self.length = length
        self.high = high
        self.low = low
    }

    /// The network address.
    public var network: IPAddress { IPAddress(family: family, high: high, low: low) }

    /// `240.240.0.0/16`, `fd00::/8`: canonical text, as iptables takes it.
    public var description: String { "\(network)/\(length)" }

    /// True when the IPv4 address `address` (host order) is in this network. No allocation:
    /// it runs per accepted connection.
    public func contains(ipv4 address: UInt32) -> Bool {
        family == .ipv4 && contains(high: 0, low: UInt64(address))
    }

    /// True when the IPv6 address whose high and low 64 bits (host order) are given is in
    /// this network. No allocation.
    public func contains(ipv6High high: UInt64, low: UInt64) -> Bool {
        family == .ipv6 && contains(high: high, low: low)
    }

    /// True when `address` is in this network (same family).
    public func contains(_ address: IPAddress) -> Bool {
        guard address.family == family else { return false }
        let (h, l) = Self.words(address)
        return contains(high: h, low: l)
    }

    func contains(high h: UInt64, low l: UInt64) -> Bool {
        let (maskHigh, maskLow) = Self.mask(family: family, length: length)
        return h & maskHigh == high && l & maskLow == low
    }

    /// The address as two host-order words (IPv4 in the low 32 bits of `low`).
    static func words(_ ip: IPAddress) -> (high: UInt64, low: UInt64) {
        var high: UInt64 = 0, low: UInt64 = 0
        let bytes = ip.bytes
        if bytes.count == 4 {
            for b in bytes { low = low << 8 | UInt64(b) }
        } else {
            for b in bytes[0..<8] { high = high << 8 | UInt64(b) }
            for b in bytes[8..<16] { low = low << 8 | UInt64(b) }
        }
        return (high, low)
    }

    /// The network mask for `length` leading bits, as two words in the same layout.
    static func mask(family: AddressFamily, length: Int) -> (high: UInt64, low: UInt64) {
        switch family {
        case .ipv4:
            return (0, length == 0 ? 0 : UInt64(UInt32.max << UInt32(32 - length)))
        case .ipv6:
            let high: UInt64 = length == 0 ? 0 : (length >= 64 ? .max : .max << UInt64(64 - length))
            let low: UInt64 = length <= 64 ? 0 : (length == 128 ? .max : .max << UInt64(128 - length))
            return (high, low)
        }
    }
}
