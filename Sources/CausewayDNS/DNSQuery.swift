/// The one question of a query (RFC 1035 §4.1.2).
public struct DNSQuestion: Equatable, Hashable, Sendable {
    public let name: DNSName
    public let type: UInt16
    public let `class`: UInt16

    public init(name: DNSName, type: UInt16, class: UInt16 = DNSClass.internet) {
        self.name = name
        self.type = type
        self.class = `class`
    }
}

/// The EDNS(0) OPT record of a query (RFC 6891 §6.1.2).
public struct EDNSOptions: Equatable, Sendable {
    /// The largest UDP response the client says it can take (the OPT record's CLASS).
    /// Values below 512 are read as 512 (RFC 6891 §6.2.3).
    public let udpPayloadSize: Int
    /// The EDNS version; only 0 exists.
    public let version: UInt8
    /// The DO bit (DNSSEC OK).
    public let dnssecOK: Bool
}

/// A query, decoded strictly and with work bounded by its size: the header, its one
/// question and, if present, its OPT record. Records in the answer and authority sections (a
/// query has none, but they are legal) and other additional records are walked over and
/// ignored, their owner names never followed through compression pointers.
public struct DNSQuery: Sendable {
    public let header: DNSHeader
    public let question: DNSQuestion
    /// Offset just past the question: bytes `12..<questionEnd` of the message are the
    /// question as the client wrote it, echoed in answers.
    public let questionEnd: Int
    /// The OPT record, when the client sent one.
    public let edns: EDNSOptions?

    /// Largest UDP answer the client takes: 512 without EDNS (RFC 1035 §4.2.1), else what its
    /// OPT record says, at most 65,535.
    public var udpLimit: Int { edns?.udpPayloadSize ?? 512 }

    /// Decodes `message`.
    ///
    /// - Throws: `DNSDecodeError` for anything but a well-formed query with exactly one
    ///   question; the message must end with its last record.
    public static func decode(_ message: UnsafeRawBufferPointer) throws(DNSDecodeError) -> DNSQuery {
        var hops = 0
        return try decode(message, hops: &hops)
    }

    /// `decode`, adding the compression pointers it follows to `hops` (the tests count them:
    /// only the question's name is ever read through pointers, at most
    /// `DNSName.maxPointers` of them).
    static func decode(_ message: UnsafeRawBufferPointer, hops: inout Int) throws(DNSDecodeError) -> DNSQuery {
        guard let header = DNSHeader(message) else { throw .shortHeader }
        guard !header.isResponse else { throw .notAQuery }
        guard header.questionCount == 1 else { throw .questionCount }
        let (name, afterName) = try DNSName.read(message, at: DNSHeader.size, hops: &hops)
        guard afterName + 4 <= message.count else { throw .truncated }
        let question = DNSQuestion(name: name, type: Wire.u16(message, afterName), class: Wire.u16(message, afterName + 2))
        var offset = afterName + 4
        let questionEnd = offset
        for _ in 0..<(Int(header.answerCount) + Int(header.authorityCount)) {
            offset = try skipRecord(message, at: offset).next
        }
        var edns: EDNSOptions?
        for _ in 0..<Int(header.additionalCount) {
            let record = try skipRecord(message, at: offset)
            if record.type == DNSType.opt {
                guard edns == nil, record.ownerIsRoot else { throw .badOPT }
                let ttl = Wire.u32(message, record.fixedAt + 4)
                edns = EDNSOptions(udpPayloadSize: max(512, Int(Wire.u16(message, record.fixedAt + 2))),
                                   version: UInt8(truncatingIfNeeded: ttl >> 16), dnssecOK: ttl & 0x8000 != 0)
            }
            offset = record.next
        }
        guard offset == message.count else { throw .trailingBytes }
        return DNSQuery(header: header, question: question, questionEnd: questionEnd, edns: edns)
    }

    /// Walks over the resource record at `offset`: its owner name (skipped, never followed
    /// through a pointer, so each record costs its own bytes only), type, class, TTL and
    /// RDATA. Returns where its fixed fields start (type at +0, class +2, TTL +4, RDLENGTH
    /// +8), and whether the owner is the root written as one zero byte (an OPT record's
    /// owner must be; a pointer to the root is not accepted there).
    static func skipRecord(_ message: UnsafeRawBufferPointer, at offset: Int) throws(DNSDecodeError)
        -> (next: Int, type: UInt16, fixedAt: Int, ownerIsRoot: Bool) {
        let (afterName, ownerIsRoot) = try DNSName.skip(message, at: offset)
        guard afterName + 10 <= message.count else { throw .truncated }
        let length = Int(Wire.u16(message, afterName + 8))
        let end = afterName + 10 + length
        guard end <= message.count else { throw .truncated }
        return (end, Wire.u16(message, afterName), afterName, ownerIsRoot)
    }
}

extension DNSQuery {
    /// Decodes a message held in an array.
    public static func decode(_ message: [UInt8]) throws(DNSDecodeError) -> DNSQuery {
        let result = message.withUnsafeBytes { raw in
            Result { () throws(DNSDecodeError) -> DNSQuery in try decode(raw) }
        }
        return try result.get()
    }
}
