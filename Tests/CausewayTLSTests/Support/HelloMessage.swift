/// A ClientHello or ServerHello taken apart at its extensions: lets a test rewrite what a
/// real client offers (to model a client our engine would never be) and read what a server
/// answered. Only the first handshake message of the first record is looked at; TLS
/// implementations send a hello in a record of its own.
struct HelloMessage {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// 1 for ClientHello, 2 for ServerHello (also a HelloRetryRequest).
    let handshakeType: UInt8
    /// The record header's version bytes, kept as sent.
    let recordVersion: [UInt8]
    /// The body up to the extensions: version, random, session id, cipher suite(s),
    /// compression method(s).
    let head: [UInt8]
    /// The extensions in order.
    var extensions: [(type: UInt16, body: [UInt8])]

    // Extension types (IANA "TLS ExtensionType Values").
    static let supportedGroups: UInt16 = 10
    static let alpn: UInt16 = 16
    static let sessionTicket: UInt16 = 35
    static let keyShare: UInt16 = 51

    // Named groups (IANA "TLS Supported Groups").
    static let x25519: UInt16 = 0x001D
    static let secp256r1: UInt16 = 0x0017
    static let secp384r1: UInt16 = 0x0018
    static let ffdhe: [UInt16] = [0x0100, 0x0101, 0x0102, 0x0103, 0x0104]

    /// The random of a HelloRetryRequest (RFC 8446 §4.1.3).
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    /// Parses the hello at the start of `bytes` (ciphertext as a connection produced it).
    init(parsing bytes: [UInt8]) throws {
        var reader = Reader(bytes)
        guard try reader.byte() == 0x16 else { throw ParseError(description: "not a handshake record") }
        recordVersion = try reader.bytes(2)
        var record = Reader(try reader.bytes(Int(try reader.u16())))
        handshakeType = try record.byte()
        guard handshakeType == 1 || handshakeType == 2 else { throw ParseError(description: "handshake type \(handshakeType) is not a hello") }
        var body = Reader(try record.bytes(try record.u24()))
        let start = body.offset
        _ = try body.bytes(2 + 32)  // legacy_version, random
        _ = try body.bytes(Int(try body.byte()))  // legacy_session_id
        if handshakeType == 1 {
            _ = try body.bytes(Int(try body.u16()))  // cipher_suites
            _ = try body.bytes(Int(try body.byte()))  // compression_methods
        } else {
            _ = try body.bytes(2 + 1)  // cipher_suite, compression_method
        }
        head = Array(body.data[start..<body.offset])
        var list = Reader(try body.bytes(Int(try body.u16())))
        extensions = []
        while !list.atEnd {
            let type = try list.u16()
            extensions.append((type, try list.bytes(Int(try list.u16()))))
        }
    }

    /// The hello as one handshake record.
    var record: [UInt8] {
        var list: [UInt8] = []
        for (type, body) in extensions { list += Self.u16(Int(type)) + Self.u16(body.count) + body }
        let body = head + Self.u16(list.count) + list
        let message = [handshakeType, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
        return [0x16] + recordVersion + Self.u16(message.count) + message
    }

    /// The hello's random (bytes 2..<34 of the body).
    var random: [UInt8] { Array(head[2..<34]) }

    var extensionTypes: [UInt16] { extensions.map(\.type) }

    func body(of type: UInt16) -> [UInt8]? {
        extensions.first { $0.type == type }?.body
    }

    /// Replaces extension `type`'s body, or appends the extension if it is absent.
    mutating func set(_ type: UInt16, _ body: [UInt8]) {
        if let index = extensions.firstIndex(where: { $0.type == type }) {
            extensions[index].body = body
        } else {
            extensions.append((type, body))
        }
    }

    /// The groups of a ClientHello's supported_groups extension.
    var supportedGroups: [UInt16] {
        guard let body = body(of: Self.supportedGroups), body.count >= 2 else { return [] }
        return Self.u16s(body[2...])
    }

    /// The groups of a ClientHello's key_share entries.
    var keyShareGroups: [UInt16] {
        var outer = Reader(body(of: Self.keyShare) ?? [])
        guard var reader = try? outer.sub() else { return [] }
        var groups: [UInt16] = []
        while !reader.atEnd, let group = try? reader.u16(), let length = try? reader.u16(), (try? reader.bytes(Int(length))) != nil {
            groups.append(group)
        }
        return groups
    }

    /// A supported_groups body listing `groups`.
    static func groupList(_ groups: [UInt16]) -> [UInt8] {
        u16(2 * groups.count) + groups.flatMap { u16(Int($0)) }
    }

    /// A ClientHello key_share body with no shares (the client waits for a
    /// HelloRetryRequest to name a group).
    static let emptyKeyShare: [UInt8] = [0, 0]

    static func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    private static func u16s(_ bytes: ArraySlice<UInt8>) -> [UInt16] {
        stride(from: bytes.startIndex, to: bytes.endIndex - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
    }

    private struct Reader {
        let data: [UInt8]
        var offset = 0
        init(_ data: [UInt8]) { self.data = data }
        var atEnd: Bool { offset >= data.count }

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            guard count >= 0, offset + count <= data.count else { throw ParseError(description: "truncated at \(offset)") }
            defer { offset += count }
            return Array(data[offset..<offset + count])
        }
        mutating func byte() throws -> UInt8 { try bytes(1)[0] }
        mutating func u16() throws -> UInt16 { let b = try bytes(2); return UInt16(b[0]) << 8 | UInt16(b[1]) }
        mutating func u24() throws -> Int { let b = try bytes(3); return Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2]) }
        /// A reader over the next u16-length-prefixed block.
        mutating func sub() throws -> Reader { Reader(try bytes(Int(try u16()))) }
    }
}
