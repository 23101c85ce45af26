/// Parses IP literals from bytes. Internal: `IPAddress.init?(_:)` is the public entry point.
///
/// Strict by design: the inputs are config files and the result must agree with `inet_pton`,
/// which the event loop uses to build socket addresses from the canonical text.
enum IPAddressParser {
    struct Parsed {
        var family: AddressFamily
        var high: UInt64
        var low: UInt64
    }

    static func parse(_ bytes: [UInt8]) -> Parsed? {
        guard !bytes.isEmpty else { return nil }
        if bytes.contains(UInt8(ascii: ":")) {
            return parseIPv6(bytes)
        }
        guard let v4 = parseIPv4(bytes, from: 0, to: bytes.count) else { return nil }
        return Parsed(family: .ipv4, high: 0, low: UInt64(v4))
    }

    /// Dotted decimal, exactly four parts of 0...255, no leading zeros.
    static func parseIPv4(_ bytes: [UInt8], from start: Int, to end: Int) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var i = start
        while i <= end {
            var part: UInt32 = 0
            var digits = 0
            let partStart = i
            while i < end, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                part = part * 10 + UInt32(bytes[i] - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3 else { return nil }
                i += 1
            }
            guard digits > 0, part <= 255 else { return nil }
            if digits > 1, bytes[partStart] == UInt8(ascii: "0") { return nil }
            value = value << 8 | part
            parts += 1
            if i == end { break }
            guard bytes[i] == UInt8(ascii: "."), parts < 4 else { return nil }
            i += 1
        }
        return parts == 4 ? value : nil
    }

    /// RFC 4291 §2.2 text forms: eight groups, one `::` for a run of zero groups, and an
    /// optional dotted IPv4 tail standing for the last two groups.
    static func parseIPv6(_ bytes: [UInt8]) -> Parsed? {
        var groups = [UInt16](repeating: 0, count: 8)
        var count = 0
        var gap = -1  // index in `groups` where `::` stood
        var i = 0
        let end = bytes.count
        if end >= 2, bytes[0] == UInt8(ascii: ":"), bytes[1] == UInt8(ascii: ":") {
            gap = 0
            i = 2
        } else if bytes[0] == UInt8(ascii: ":") {
            return nil
        }
        while i < end {
            guard count < 8 else { return nil }
            // Find the end of this group.
            var j = i
            var sawDot = false
            while j < end, bytes[j] != UInt8(ascii: ":") {
                if bytes[j] == UInt8(ascii: ".") { sawDot = true }
                j += 1
            }
            if sawDot {
                // The IPv4 tail must be last and needs room for two groups.
                guard j == end, count <= 6, let v4 = parseIPv4(bytes, from: i, to: end) else { return nil }
                groups[count] = UInt16(v4 >> 16)
                groups[count + 1] = UInt16(truncatingIfNeeded: v4)
                count += 2
                i = end
                break
            }
            guard j > i, j - i <= 4 else { return nil }
            var group: UInt16 = 0
            for k in i..<j {
                guard let digit = hexValue(bytes[k]) else { return nil }
                group = group << 4 | UInt16(digit)
            }
            groups[count] = group
            count += 1
            if j == end { i = end; break }
            // bytes[j] is ':'; a second ':' right after it is the `::` gap.
            if j + 1 < end, bytes[j + 1] == UInt8(ascii: ":") {
                guard gap < 0 else { return nil }
                gap = count
                i = j + 2
            } else {
                guard j + 1 < end else { return nil }  // trailing single ':'
                i = j + 1
            }
        }
        if gap >= 0 {
            // `::` stands for at least one zero group.
            guard count <= 7 else { return nil }
            let moved = count - gap
            for k in stride(from: moved - 1, through: 0, by: -1) {
                groups[8 - moved + k] = groups[gap + k]
            }
            for k in gap..<(8 - moved) { groups[k] = 0 }
        } else {
            guard count == 8 else { return nil }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for k in 0..<4 {
            high = high << 16 | UInt64(groups[k])
            low = low << 16 | UInt64(groups[k + 4])
        }
        return Parsed(family: .ipv6, high: high, low: low)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
