/// A parsed response head, in HTTP/2 form.
public struct HTTP1ResponseHead: Sendable {
    public var status: Int
    /// `:status` first, then the fields with lower-cased names, minus connection-specific
    /// ones (connection and the fields it names, keep-alive, proxy-connection,
    /// transfer-encoding, upgrade, te). content-length is passed on once, except on 1xx and
    /// 204 where HTTP/2 forbids it.
    public var headers: HeaderBlock
    /// `.none` (HEAD, 1xx, 204, 304), `.contentLength`, `.chunked` or `.untilClose`.
    public var framing: HTTP1Framing
    /// HTTP/1.1 unless "connection: close"; HTTP/1.0 only with "connection: keep-alive";
    /// never for a body delimited by the close.
    public var keepAlive: Bool

    public init(status: Int, headers: HeaderBlock, framing: HTTP1Framing, keepAlive: Bool) {
        self.status = status
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
    }
}

extension HTTP1ResponseHead {
    /// Parses a complete head, `head` (status line through the empty line's CRLF), of the
    /// response to a HEAD request if `toHEAD`, reusing `fields` as scratch. Errors are 502.
    static func parse(_ head: UnsafeRawBufferPointer, toHEAD: Bool, limits: HTTP1Limits,
                      fields: inout [HTTP1RawField]) throws(HTTP1ParseError) -> HTTP1ResponseHead {
        let side = HTTP1Side.response
        let p = head.baseAddress!
        let n = head.count
        // "HTTP/" DIGIT "." DIGIT SP 3DIGIT SP reason CRLF (RFC 9112 §4); the SP before an
        // empty reason is commonly left out and is not needed to find the end.
        guard n >= 14, HTTP1Chars.equalsExactly(rawSlice(p, 0, 5), "HTTP/") else { throw side.error(502, "invalid-status-line") }
        let major = p.load(fromByteOffset: 5, as: UInt8.self) &- 0x30
        let minor = p.load(fromByteOffset: 7, as: UInt8.self) &- 0x30
        guard major < 10, minor < 10, p.load(fromByteOffset: 6, as: UInt8.self) == 0x2E,
              p.load(fromByteOffset: 8, as: UInt8.self) == HTTP1Chars.sp else {
            throw side.error(502, "invalid-status-line")
        }
        guard major == 1 else { throw side.error(502, "http-version-not-supported") }
        var status = 0
        for k in 9..<12 {
            let d = p.load(fromByteOffset: k, as: UInt8.self) &- 0x30
            guard d < 10 else { throw side.error(502, "invalid-status-line") }
            status = status * 10 + Int(d)
        }
        guard status >= 100, status <= 599 else { throw side.error(502, "invalid-status") }
        var i = 12
        let afterCode = p.load(fromByteOffset: 12, as: UInt8.self)
        if afterCode == HTTP1Chars.sp {
            i = 13
            while true {
                let b = p.load(fromByteOffset: i, as: UInt8.self)
                if b == HTTP1Chars.cr { break }
                guard HTTP1Chars.isFieldValueChar(b) else { throw side.error(502, "invalid-status-line") }
                i += 1
            }
        }
        guard p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.cr,
              p.load(fromByteOffset: i + 1, as: UInt8.self) == HTTP1Chars.lf else {
            throw side.error(502, afterCode == HTTP1Chars.cr ? "bare-cr" : "invalid-status-line")
        }
        if status == 101 { throw side.error(502, "unexpected-upgrade") }

        try HTTP1FieldLines.parse(p, from: i + 2, to: n, maxCount: limits.maxHeaderCount, side: side,
                                  tooMany: side.error(502, "too-many-headers"), into: &fields)
        let framingFields = try HTTP1FieldLines.framing(of: fields, in: p, side: side)
        let minorVersion = minor == 0 ? 0 : 1
        let informational = status < 200
        if framingFields.transferEncodingFields > 0 {
            if minorVersion == 0 { throw side.error(502, "transfer-encoding-in-http10") }
            if framingFields.contentLength != nil { throw side.error(502, "content-length-and-chunked") }
            guard framingFields.chunked else { throw side.error(502, "unsupported-transfer-encoding") }
        }
        // RFC 9112 §6.3, in its order.
        let framing: HTTP1Framing
        if toHEAD || informational || status == 204 || status == 304 { framing = .none }
        else if framingFields.transferEncodingFields > 0 { framing = .chunked }
        else if let length = framingFields.contentLength { framing = .contentLength(length) }
        else { framing = .untilClose }

        var block = HeaderBlock()
        block.reserveCapacity(bytes: n + 8, fields: fields.count + 1)
        block.append(name: rawBytes(":status"), value: rawSlice(p, 9, 12))
        let keepLength = !informational && status != 204
        for (index, f) in fields.enumerated() {
            switch f.kind {
            case .other, .host, .expect:
                block.append(lowercasingName: f.name(in: p), value: f.value(in: p))
            case .contentLength where keepLength && index == framingFields.contentLengthField:
                block.append(name: rawBytes("content-length"), value: firstNumber(f.value(in: p)))
            case .connection where framingFields.connectionNamesFields:
                block.append(lowercasingName: f.name(in: p), value: f.value(in: p))
            default:
                break
            }
        }
        if framingFields.connectionNamesFields { block = HTTP1FieldLines.removingConnectionNamed(block) }
        let keepAlive = framing != .untilClose && !framingFields.close && (minorVersion == 1 || framingFields.keepAlive)
        return HTTP1ResponseHead(status: status, headers: block, framing: framing, keepAlive: keepAlive)
    }

    /// The first number of a content-length value ("5" of "5, 5"): its digits as sent.
    private static func firstNumber(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var e = 0
        while e < v.count && v[e] &- 0x30 < 10 { e += 1 }
        return UnsafeRawBufferPointer(rebasing: v[0..<e])
    }
}
