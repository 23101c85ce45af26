@testable import CausewayDNS

/// Builds DNS messages byte by byte, the way a client would, for the codec tests.
enum DNSTestMessages {
    /// A name in wire form, uncompressed (labels as given, case kept).
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out += Array(label.utf8)
        }
        out.append(0)
        return out
    }

    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

    /// An OPT record: root owner, payload size, version, DO bit.
    static func opt(size: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false) -> [UInt8] {
        [0] + u16(DNSType.opt) + u16(size) + [0, version, dnssecOK ? 0x80 : 0, 0] + u16(0)
    }

    /// A query for `name`/`type` with recursion desired and, optionally, an OPT record.
    static func query(_ name: String, type: UInt16 = DNSType.a, class qclass: UInt16 = DNSClass.internet, id: UInt16 = 0x1234,
                      flags: UInt16 = DNSHeader.recursionDesiredBit, edns: [UInt8]? = nil) -> [UInt8] {
        var out: [UInt8] = []
        DNSHeader(id: id, flags: flags, questionCount: 1, additionalCount: edns == nil ? 0 : 1).write(to: &out)
        out += self.name(name) + u16(type) + u16(qclass)
        if let edns { out += edns }
        return out
    }

    /// A response to `query` with the given records (each owner a pointer to the question).
    static func response(to query: [UInt8], id: UInt16? = nil, flags: UInt16 = 0x8180,
                         records: [(type: UInt16, data: [UInt8])] = []) -> [UInt8] {
        let q = try! DNSQuery.decode(query)
        var out: [UInt8] = []
        DNSHeader(id: id ?? q.header.id, flags: flags, questionCount: 1, answerCount: UInt16(records.count)).write(to: &out)
        out += query[12..<q.questionEnd]
        for r in records {
            out += [0xc0, 0x0c] + u16(r.type) + u16(1) + [0, 0, 0, 60] + u16(UInt16(r.data.count)) + r.data
        }
        return out
    }
}

/// A parsed response, for checking what the writer produced.
struct ParsedResponse {
    var header: DNSHeader
    var questionName: [UInt8]  // wire bytes as echoed
    var answers: [(name: [UInt8], type: UInt16, class: UInt16, ttl: UInt32, data: [UInt8])] = []
    var opt: (size: UInt16, extendedCode: UInt8)?

    /// Parses a response whose records name the question by pointer (what our writer emits).
    init(_ bytes: [UInt8]) throws {
        header = bytes.withUnsafeBytes { DNSHeader($0)! }
        var offset = 12
        if header.questionCount == 1 {
            let start = offset
            while bytes[offset] != 0 { offset += Int(bytes[offset]) + 1 }
            offset += 1
            questionName = Array(bytes[start..<offset])
            offset += 4
        } else {
            questionName = []
        }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        for _ in 0..<header.answerCount {
            let name = Array(bytes[offset..<offset + 2])
            offset += 2
            let type = u16(offset), cls = u16(offset + 2)
            let ttl = UInt32(u16(offset + 4)) << 16 | UInt32(u16(offset + 6))
            let length = Int(u16(offset + 8))
            answers.append((name, type, cls, ttl, Array(bytes[offset + 10..<offset + 10 + length])))
            offset += 10 + length
        }
        for _ in 0..<header.additionalCount {
            guard bytes[offset] == 0, u16(offset + 1) == DNSType.opt else { throw ParseFailure() }
            opt = (u16(offset + 3), bytes[offset + 5])
            offset += 11 + Int(u16(offset + 9))
        }
        guard offset == bytes.count else { throw ParseFailure() }
    }

    struct ParseFailure: Error {}
}
