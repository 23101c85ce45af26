/// A parsed request head, already in HTTP/2 form for the rest of the proxy.
public struct HTTP1RequestHead: Sendable {
    /// `:method`, `:scheme` ("http"), `:authority` (Host, or the authority of an
    /// absolute-form target; Host must agree with it), `:path` (origin-form target; "*" for
    /// OPTIONS *), then the remaining fields with lower-cased names, minus connection-specific
    /// ones (connection and the fields it names, keep-alive, proxy-connection,
    /// transfer-encoding, upgrade, host, te unless exactly "trailers"), as RFC 9113 §8.2.2
    /// asks. `expect` is consumed here too (see `expectsContinue`): the proxy answers the
    /// expectation on this hop. CONNECT (authority-form) has `:method` and `:authority` only.
    /// A content-length field is passed on once, with the value that frames the body.
    public var headers: HeaderBlock
    /// `.none`, `.contentLength` or `.chunked`.
    public var framing: HTTP1Framing
    /// HTTP/1.1 unless "connection: close"; HTTP/1.0 only with "connection: keep-alive".
    /// Always false for CONNECT: whatever follows it on the connection is not a request.
    public var keepAlive: Bool
    /// "expect: 100-continue" on an HTTP/1.1 request (other expectations are refused, 417;
    /// HTTP/1.0 expectations are ignored, RFC 9110 §10.1.1).
    public var expectsContinue: Bool
    /// 0 or 1 (HTTP/1.2 and later minor versions are read as 1.1, RFC 9112 §2.3).
    public var minorVersion: Int

    public init(headers: HeaderBlock, framing: HTTP1Framing, keepAlive: Bool, expectsContinue: Bool, minorVersion: Int) {
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.minorVersion = minorVersion
    }
}

extension HTTP1RequestHead {
    /// The parts of a request line (RFC 9112 §3), as offsets into the head.
    private struct RequestLine {
        var methodEnd: Int
        var targetStart: Int
        var targetEnd: Int
        var minorVersion: Int
        /// Just past the line's LF.
        var next: Int
    }

    /// Parses a complete head, `head` (request line through the empty line's CRLF), reusing
    /// `fields` as scratch.
    static func parse(_ head: UnsafeRawBufferPointer, limits: HTTP1Limits,
                      fields: inout [HTTP1RawField]) throws(HTTP1ParseError) -> HTTP1RequestHead {
        let p = head.baseAddress!
        let line = try requestLine(p, count: head.count)
        try HTTP1FieldLines.parse(p, from: line.next, to: head.count, maxCount: limits.maxHeaderCount, side: .request,
                                  tooMany: HTTP1ParseError(status: 431, reason: "too-many-headers"), into: &fields)
        let framingFields = try HTTP1FieldLines.framing(of: fields, in: p, side: .request)
        let method = rawSlice(p, 0, line.methodEnd)
        let target = rawSlice(p, line.targetStart, line.targetEnd)
        let isConnect = HTTP1Chars.equalsExactly(method, "CONNECT")

        // Framing (RFC 9112 §6.1, §6.3): the rules request smuggling hides in.
        let framing: HTTP1Framing
        if framingFields.transferEncodingFields > 0 {
            if line.minorVersion == 0 { throw HTTP1ParseError(status: 400, reason: "transfer-encoding-in-http10") }
            if framingFields.contentLength != nil { throw HTTP1ParseError(status: 400, reason: "content-length-and-chunked") }
            guard framingFields.chunked else { throw HTTP1ParseError(status: 501, reason: "unsupported-transfer-encoding") }
            framing = .chunked
        } else if let n = framingFields.contentLength {
            framing = .contentLength(n)
        } else {
            framing = .none
        }

        // Host: exactly one in HTTP/1.1 (RFC 9112 §3.2), a valid authority.
        var hostField: HTTP1RawField? = nil
        var expectsContinue = false
        for f in fields {
            switch f.kind {
            case .host:
                if hostField != nil { throw HTTP1ParseError(status: 400, reason: "multiple-host") }
                guard isAuthority(f.value(in: p), allowEmpty: true) else {
                    throw HTTP1ParseError(status: 400, reason: "invalid-host")
                }
                hostField = f
            case .expect where line.minorVersion == 1:
                guard HTTP1Chars.equalsLowercase(p + Int(f.valueStart), Int(f.valueCount), "100-continue") else {
                    throw HTTP1ParseError(status: 417, reason: "unsupported-expectation")
                }
                expectsContinue = true
            default:
                break
            }
        }
        if hostField == nil && line.minorVersion == 1 { throw HTTP1ParseError(status: 400, reason: "missing-host") }

        // The target in its four forms (RFC 9112 §3.2).
        var authority: UnsafeRawBufferPointer? = hostField.map { $0.value(in: p) }
        var path: UnsafeRawBufferPointer? = target
        var pathNeedsSlash = false
        let first = target[0]
        if isConnect {
            guard isAuthority(target, allowEmpty: false) else { throw HTTP1ParseError(status: 400, reason: "invalid-request-target") }
            try agree(host: authority, with: target)
            authority = target
            path = nil
        } else if first == 0x2F {
            // origin-form: as it is.
        } else if target.count == 1 && first == 0x2A {
            guard HTTP1Chars.equalsExactly(method, "OPTIONS") else { throw HTTP1ParseError(status: 400, reason: "invalid-request-target") }
        } else if target.count > 7 && HTTP1Chars.equalsLowercase(p + line.targetStart, 7, "http://") {
            // absolute-form: the authority comes from the target, and Host must say the same.
            var a = 7
            while a < target.count {
                let b = target[a]
                if b == 0x2F || b == 0x3F { break }
                a += 1
            }
            let targetAuthority = UnsafeRawBufferPointer(rebasing: target[7..<a])
            guard isAuthority(targetAuthority, allowEmpty: false) else {
                throw HTTP1ParseError(status: 400, reason: "invalid-request-target")
            }
            try agree(host: authority, with: targetAuthority)
            authority = targetAuthority
            path = UnsafeRawBufferPointer(rebasing: target[a...])
            pathNeedsSlash = path!.isEmpty || path![0] != 0x2F
        } else {
            throw HTTP1ParseError(status: 400, reason: "invalid-request-target")
        }

        var block = HeaderBlock()
        block.reserveCapacity(bytes: head.count + 32, fields: fields.count + 4)
        block.append(name: rawBytes(":method"), value: method)
        if !isConnect { block.append(name: rawBytes(":scheme"), value: rawBytes("http")) }
        if let authority, !authority.isEmpty { block.append(name: rawBytes(":authority"), value: authority) }
        if let path {
            if pathNeedsSlash {
                // "http://host" or "http://host?q": the rare absolute-form without a path.
                let slashed: [UInt8] = [0x2F] + Array(path)
                slashed.withUnsafeBytes { block.append(name: rawBytes(":path"), value: $0) }
            } else {
                block.append(name: rawBytes(":path"), value: path)
            }
        }
        for (index, f) in fields.enumerated() {
            switch f.kind {
            case .other:
                block.append(lowercasingName: f.name(in: p), value: f.value(in: p))
            case .contentLength:
                // Once, where the first one was: duplicates agreed (else framing threw).
                if index == framingFields.contentLengthField {
                    block.append(name: rawBytes("content-length"), value: firstElement(f.value(in: p)))
                }
            case .te:
                if HTTP1Chars.equalsLowercase(p + Int(f.valueStart), Int(f.valueCount), "trailers") {
                    block.append(name: rawBytes("te"), value: rawBytes("trailers"))
                }
            case .connection where framingFields.connectionNamesFields:
                // Kept until the fields it names are removed below.
                block.append(lowercasingName: f.name(in: p), value: f.value(in: p))
            default:
                break
            }
        }
        if framingFields.connectionNamesFields { block = HTTP1FieldLines.removingConnectionNamed(block) }

        let keepAlive = !isConnect && !framingFields.close && (line.minorVersion == 1 || framingFields.keepAlive)
        return HTTP1RequestHead(headers: block, framing: framing, keepAlive: keepAlive,
                                expectsContinue: expectsContinue, minorVersion: line.minorVersion)
    }

    /// `method SP request-target SP HTTP-version CRLF`, with exactly one space between parts.
    private static func requestLine(_ p: UnsafeRawPointer, count: Int) throws(HTTP1ParseError) -> RequestLine {
        let first = p.load(as: UInt8.self)
        if HTTP1Chars.isWhitespace(first) { throw HTTP1ParseError(status: 400, reason: "invalid-request-line") }
        var i = 0
        while i < count && HTTP1Chars.isTchar(p.load(fromByteOffset: i, as: UInt8.self)) { i += 1 }
        guard i > 0, i < count, p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.sp else {
            throw HTTP1ParseError(status: 400, reason: "invalid-method")
        }
        let methodEnd = i
        i += 1
        let targetStart = i
        while i < count {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            guard HTTP1Chars.isTargetChar(b) else { break }
            i += 1
        }
        guard i > targetStart, i < count, p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.sp else {
            throw HTTP1ParseError(status: 400, reason: "invalid-request-target")
        }
        let targetEnd = i
        i += 1
        // "HTTP/" DIGIT "." DIGIT CRLF
        guard i + 10 <= count, HTTP1Chars.equalsExactly(rawSlice(p, i, i + 5), "HTTP/") else {
            throw HTTP1ParseError(status: 400, reason: "invalid-version")
        }
        let major = p.load(fromByteOffset: i + 5, as: UInt8.self) &- 0x30
        let dot = p.load(fromByteOffset: i + 6, as: UInt8.self)
        let minor = p.load(fromByteOffset: i + 7, as: UInt8.self) &- 0x30
        guard major < 10, dot == 0x2E, minor < 10, p.load(fromByteOffset: i + 8, as: UInt8.self) == HTTP1Chars.cr,
              p.load(fromByteOffset: i + 9, as: UInt8.self) == HTTP1Chars.lf else {
            throw HTTP1ParseError(status: 400, reason: "invalid-version")
        }
        guard major == 1 else { throw HTTP1ParseError(status: 505, reason: "http-version-not-supported") }
        return RequestLine(methodEnd: methodEnd, targetStart: targetStart, targetEnd: targetEnd,
                           minorVersion: minor == 0 ? 0 : 1, next: i + 10)
    }

    /// A Host value or authority-form target: authority characters only, no userinfo.
    static func isAuthority(_ v: UnsafeRawBufferPointer, allowEmpty: Bool) -> Bool {
        if v.isEmpty { return allowEmpty }
        for b in v where !HTTP1Chars.isAuthorityChar(b) { return false }
        return true
    }

    /// Host, when present, must name the same authority as the target.
    private static func agree(host: UnsafeRawBufferPointer?, with target: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        if let host, !HTTP1Chars.equalsIgnoringCase(host, target) {
            throw HTTP1ParseError(status: 400, reason: "authority-mismatch")
        }
    }

    /// The first number of a content-length value ("5" of "5, 5"): its digits as sent.
    private static func firstElement(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var e = 0
        while e < v.count && v[e] &- 0x30 < 10 { e += 1 }
        return UnsafeRawBufferPointer(rebasing: v[0..<e])
    }
}
