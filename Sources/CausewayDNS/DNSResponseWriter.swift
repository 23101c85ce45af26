/// One answer record, owned by the question's name (written as a pointer to it).
public struct DNSAnswerRecord: Equatable, Sendable {
    public let type: UInt16
    public let ttl: UInt32
    public let data: [UInt8]

    public init(type: UInt16, ttl: UInt32, data: [UInt8]) {
        self.type = type
        self.ttl = ttl
        self.data = data
    }
}

/// Builds responses to decoded queries. The question is echoed byte for byte from the
/// query (the client's letter case included) at the same offset, so any compression
/// pointer inside it stays valid, and answers name it with a pointer to offset 12.
///
/// Never larger than the limit it is given: an answer that does not fit is replaced by the
/// header and question with TC set (RFC 1035 §4.2.1, RFC 2181 §9), which always fits 512
/// bytes (a question is at most 259 bytes).
public enum DNSResponseWriter {
    /// The UDP payload size this server advertises in its OPT records: the DNS Flag Day
    /// 2020 value, which avoids IP fragmentation on common paths.
    public static let advertisedPayloadSize: UInt16 = 1232

    /// A response to `query` (whose bytes are `message`) with `code`, `answers` and, when
    /// the query had an OPT record, one of ours. `authoritative` sets AA (mesh names: this
    /// server is their source). Written to `out` (replacing its contents); at most `limit`
    /// bytes, truncated (TC, no answers) otherwise.
    public static func respond(
        to query: DNSQuery, message: UnsafeRawBufferPointer, code: DNSResponseCode, authoritative: Bool,
        answers: [DNSAnswerRecord], limit: Int, into out: inout [UInt8]
    ) {
        write(query, message, code: code, authoritative: authoritative, answers: answers, truncated: false, into: &out)
        if out.count > limit {
            write(query, message, code: code, authoritative: authoritative, answers: [], truncated: true, into: &out)
        }
    }

    /// A response saying only `code` (SERVFAIL on an upstream timeout, say), with the
    /// question echoed.
    public static func failure(to query: DNSQuery, message: UnsafeRawBufferPointer, code: DNSResponseCode, into out: inout [UInt8]) {
        write(query, message, code: code, authoritative: false, answers: [], truncated: false, into: &out)
    }

    /// The header and question of an upstream answer that does not fit the client's UDP
    /// limit: the upstream's flags and response code with TC set, no records, and our OPT
    /// record when the client sent one. The client asks again over TCP.
    public static func truncated(upstreamFlags: UInt16, to query: DNSQuery, message: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        let flags = (upstreamFlags | DNSHeader.responseBit | DNSHeader.truncatedBit)
        DNSHeader(id: query.header.id, flags: flags, questionCount: 1, additionalCount: query.edns == nil ? 0 : 1).write(to: &out)
        out.append(contentsOf: message[DNSHeader.size..<query.questionEnd])
        if query.edns != nil { writeOPT(extendedCode: 0, into: &out) }
    }

    /// A header-only answer (no question): NOTIMP for an opcode other than QUERY, where the
    /// rest of the message is not read.
    public static func headerOnly(id: UInt16, queryFlags: UInt16, code: DNSResponseCode, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        // Opcode and RD are echoed (RFC 1035 §4.1.1); everything else is ours.
        let echoed = queryFlags & (0x7800 | DNSHeader.recursionDesiredBit)
        DNSHeader(id: id, flags: echoed | DNSHeader.responseBit | (code.rawValue & 0x0f)).write(to: &out)
    }

    private static func write(
        _ query: DNSQuery, _ message: UnsafeRawBufferPointer, code: DNSResponseCode, authoritative: Bool,
        answers: [DNSAnswerRecord], truncated: Bool, into out: inout [UInt8]
    ) {
        out.removeAll(keepingCapacity: true)
        // RD and CD are copied from the query; RA is set: other names are resolved upstream.
        var flags = DNSHeader.responseBit | DNSHeader.recursionAvailableBit | (code.rawValue & 0x0f)
        flags |= query.header.flags & (DNSHeader.recursionDesiredBit | DNSHeader.checkingDisabledBit)
        if authoritative { flags |= DNSHeader.authoritativeBit }
        if truncated { flags |= DNSHeader.truncatedBit }
        let header = DNSHeader(id: query.header.id, flags: flags, questionCount: 1, answerCount: UInt16(answers.count),
                               additionalCount: query.edns == nil ? 0 : 1)
        header.write(to: &out)
        out.append(contentsOf: message[DNSHeader.size..<query.questionEnd])
        for answer in answers {
            Wire.append(UInt16(0xc000 | DNSHeader.size), to: &out)  // the question's name
            Wire.append(answer.type, to: &out)
            Wire.append(DNSClass.internet, to: &out)
            Wire.append(answer.ttl, to: &out)
            Wire.append(UInt16(answer.data.count), to: &out)
            out.append(contentsOf: answer.data)
        }
        if query.edns != nil { writeOPT(extendedCode: UInt8(truncatingIfNeeded: code.rawValue >> 4), into: &out) }
    }

    /// Our OPT record: root owner, our payload size, the extended response code's upper
    /// bits, version 0, no flags, no options.
    private static func writeOPT(extendedCode: UInt8, into out: inout [UInt8]) {
        out.append(0)
        Wire.append(DNSType.opt, to: &out)
        Wire.append(advertisedPayloadSize, to: &out)
        Wire.append(UInt32(extendedCode) << 24, to: &out)
        Wire.append(UInt16(0), to: &out)
    }
}
