/// Byte classes of RFC 9110/9112, as 128-bit masks held in two constants: a class test is a
/// shift and an AND, with no table in memory and no lazily initialised global on the hot path.
enum HTTP1Chars {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    // tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA (RFC 9110 §5.6.2).
    private static let tcharLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tcharHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    // Characters of an authority (host [":" port], IP literals): unreserved, pct-encoded,
    // sub-delims, ":", "[" and "]" (RFC 3986 §3.2). No "@": userinfo is refused.
    private static let authorityLow: UInt64 = 0x2FFF_7FF2_0000_0000
    private static let authorityHigh: UInt64 = 0x47FF_FFFE_AFFF_FFFE

    /// A token character (field names, methods, chunk extension names).
    @inline(__always)
    static func isTchar(_ b: UInt8) -> Bool {
        b < 64 ? (tcharLow >> UInt64(b)) & 1 != 0 : b < 128 && (tcharHigh >> UInt64(b &- 64)) & 1 != 0
    }

    /// A character allowed in a Host value or an authority-form target.
    @inline(__always)
    static func isAuthorityChar(_ b: UInt8) -> Bool {
        b < 64 ? (authorityLow >> UInt64(b)) & 1 != 0 : b < 128 && (authorityHigh >> UInt64(b &- 64)) & 1 != 0
    }

    /// field-vchar, SP or HTAB: what a field value may contain (RFC 9110 §5.5); obs-text
    /// (0x80-0xFF) is kept as opaque bytes. NUL, CR, LF and the other controls are not.
    @inline(__always)
    static func isFieldValueChar(_ b: UInt8) -> Bool {
        (b >= 0x20 && b != 0x7F) || b == htab
    }

    /// A request-target byte: visible ASCII or obs-text; no space, no control (RFC 9112 §3.2).
    @inline(__always)
    static func isTargetChar(_ b: UInt8) -> Bool {
        b > 0x20 && b != 0x7F
    }

    /// SP or HTAB (OWS, BWS).
    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool {
        b == sp || b == htab
    }

    /// ASCII lower case of `b` (other bytes unchanged).
    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 {
        b &- 0x41 < 26 ? b | 0x20 : b
    }

    /// The value of a hex digit, or nil.
    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt64? {
        if b &- 0x30 < 10 { return UInt64(b &- 0x30) }
        let l = b | 0x20
        if l &- 0x61 < 6 { return UInt64(l &- 0x61 &+ 10) }
        return nil
    }

    /// True when `p[0..<count]` equals the lower-case ASCII `lowered`, ignoring case.
    @inline(__always)
    static func equalsLowercase(_ p: UnsafeRawPointer, _ count: Int, _ lowered: StaticString) -> Bool {
        guard count == lowered.utf8CodeUnitCount else { return false }
        let l = lowered.utf8Start
        for i in 0..<count where lower(p.load(fromByteOffset: i, as: UInt8.self)) != l[i] { return false }
        return true
    }

    /// Byte-for-byte equality with a static string (methods and versions are case-sensitive).
    @inline(__always)
    static func equalsExactly(_ v: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        v.count == s.utf8CodeUnitCount && (v.isEmpty || memEqual(v.baseAddress!, UnsafeRawPointer(s.utf8Start), v.count))
    }

    /// Case-insensitive equality of two byte ranges (any bytes; ASCII letters folded).
    static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where lower(a[i]) != lower(b[i]) { return false }
        return true
    }
}

/// A raw buffer of `count` bytes at `p`.
@inline(__always)
func rawSlice(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: p + start, count: end - start)
}

/// The bytes of a static string, for HeaderBlock appends.
@inline(__always)
func rawBytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}
