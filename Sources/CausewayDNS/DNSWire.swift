/// Numbers of the DNS wire format (RFC 1035 §4.1, RFC 3596, RFC 6891) that this server reads
/// or writes. Only what is used is named.
public enum DNSType {
    /// An IPv4 address (RFC 1035).
    public static let a: UInt16 = 1
    /// An IPv6 address (RFC 3596).
    public static let aaaa: UInt16 = 28
    /// The EDNS(0) pseudo-record (RFC 6891).
    public static let opt: UInt16 = 41
    /// A query for every type (RFC 8482 answers it with one set).
    public static let any: UInt16 = 255
}

/// DNS classes.
public enum DNSClass {
    /// The Internet.
    public static let internet: UInt16 = 1
}

/// Response codes (RFC 1035 §4.1.1; BADVERS is an extended code, RFC 6891 §6.1.3).
public enum DNSResponseCode: UInt16, Sendable {
    case noError = 0
    case formatError = 1
    case serverFailure = 2
    case nameError = 3
    case notImplemented = 4
    case refused = 5
    /// 16: the query's EDNS version is not supported. Its upper 8 bits travel in the OPT
    /// record, its lower 4 (zero) in the header.
    case badVersion = 16
}

/// The 12-byte message header (RFC 1035 §4.1.1).
public struct DNSHeader: Equatable, Sendable {
    /// Size of a header on the wire.
    public static let size = 12

    public var id: UInt16
    /// QR, Opcode, AA, TC, RD, RA, Z, AD, CD and RCODE, as on the wire.
    public var flags: UInt16
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    public init(id: UInt16, flags: UInt16, questionCount: UInt16 = 0, answerCount: UInt16 = 0,
                authorityCount: UInt16 = 0, additionalCount: UInt16 = 0) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// Reads the header at the start of `message`; nil when it is shorter than 12 bytes.
    public init?(_ message: UnsafeRawBufferPointer) {
        guard message.count >= Self.size else { return nil }
        func word(_ at: Int) -> UInt16 { UInt16(message[at]) << 8 | UInt16(message[at + 1]) }
        self.init(id: word(0), flags: word(2), questionCount: word(4), answerCount: word(6),
                  authorityCount: word(8), additionalCount: word(10))
    }

    // Flag bits (RFC 1035 §4.1.1).
    public static let responseBit: UInt16 = 0x8000
    public static let authoritativeBit: UInt16 = 0x0400
    public static let truncatedBit: UInt16 = 0x0200
    public static let recursionDesiredBit: UInt16 = 0x0100
    public static let recursionAvailableBit: UInt16 = 0x0080
    /// DNSSEC: checking disabled (RFC 4035), echoed from the query.
    public static let checkingDisabledBit: UInt16 = 0x0010

    /// True for a response (QR = 1).
    public var isResponse: Bool { flags & Self.responseBit != 0 }
    /// The kind of query; 0 is a standard QUERY.
    public var opcode: UInt8 { UInt8((flags >> 11) & 0x0f) }
    /// The TC bit: the answer did not fit.
    public var isTruncated: Bool { flags & Self.truncatedBit != 0 }
    public var recursionDesired: Bool { flags & Self.recursionDesiredBit != 0 }
    /// The low 4 bits of the response code.
    public var responseCode: UInt8 { UInt8(flags & 0x0f) }

    /// Appends the 12 bytes to `out`.
    public func write(to out: inout [UInt8]) {
        for value in [id, flags, questionCount, answerCount, authorityCount, additionalCount] {
            out.append(UInt8(value >> 8))
            out.append(UInt8(truncatingIfNeeded: value))
        }
    }
}

/// Big-endian helpers over a message.
enum Wire {
    @inline(__always)
    static func u16(_ m: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(m[at]) << 8 | UInt16(m[at + 1])
    }

    @inline(__always)
    static func u32(_ m: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(u16(m, at)) << 16 | UInt32(u16(m, at + 2))
    }

    static func append(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    static func append(_ value: UInt32, to out: inout [UInt8]) {
        append(UInt16(value >> 16), to: &out)
        append(UInt16(truncatingIfNeeded: value), to: &out)
    }

    /// Overwrites the big-endian 16-bit value at `at`.
    static func put(_ value: UInt16, at: Int, in out: inout [UInt8]) {
        out[at] = UInt8(value >> 8)
        out[at + 1] = UInt8(truncatingIfNeeded: value)
    }
}
