/// Decoding of one UTF-8 sequence at a time, for the escapers.
///
/// The escapers see bytes a peer chose (paths, authorities, SNI names in messages), so they
/// cannot trust them to be UTF-8; they walk the bytes with this instead of `String`, which
/// would replace invalid bytes silently and allocate.
enum UTF8Scan {
    /// The well-formed sequence starting at `i`: its length (1...4) and scalar value, or
    /// `nil` when the bytes at `i` do not start one (stray continuation byte, overlong form,
    /// surrogate, value above U+10FFFF, or a sequence cut short by the end of `bytes`).
    /// Follows the table of well-formed byte sequences in Unicode §3.9 (D92).
    @inline(__always)
    static func sequence(in bytes: UnsafeRawBufferPointer, at i: Int) -> (length: Int, scalar: UInt32)? {
        let b0 = bytes[i]
        if b0 < 0x80 { return (1, UInt32(b0)) }
        let n = bytes.count
        // The allowed range of the second byte depends on the lead byte; the others are 80...BF.
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return nil
        }
        guard i + length <= n else { return nil }
        let b1 = bytes[i + 1]
        guard b1 >= low && b1 <= high else { return nil }
        var scalar = UInt32(b0) & (0xFF >> (length + 1))
        scalar = scalar << 6 | UInt32(b1 & 0x3F)
        var k = 2
        while k < length {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(b & 0x3F)
            k += 1
        }
        return (length, scalar)
    }

    /// Scalars that are well-formed but that a terminal or log viewer may act on: C1
    /// controls (U+0085 is a line break to some viewers, U+009B a terminal CSI), the line
    /// and paragraph separators, and the bidirectional overrides and isolates, which can
    /// make a line display differently from what it contains.
    @inline(__always)
    static func isHazardous(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x80...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
