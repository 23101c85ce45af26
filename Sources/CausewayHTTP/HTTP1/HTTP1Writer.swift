/// Serializes HTTP/1.1 heads and chunked framing into a caller-owned `[UInt8]` (appends; no
/// intermediate Strings).
///
/// Fields come from HTTP/2 blocks, so they are lower case and nghttp2 has checked them; a
/// field that could still break HTTP/1.1 framing (a name that is not a token, a value with
/// CR, LF, NUL or another control character) is left out rather than written, so that no
/// header value can ever split a message in two. Connection-specific fields and framing
/// fields of the block are never copied: the writer emits the framing it is told.
public enum HTTP1Writer {
    /// "HTTP/1.1 <status> <reason>\r\n" + fields of `headers` without pseudo-fields and
    /// without connection-specific ones + framing field (content-length or
    /// transfer-encoding: chunked, none for .none/.untilClose) + "connection: close" when
    /// !keepAlive + "\r\n".
    ///
    /// With `.none`, a content-length of the block is kept: it is the size of what a HEAD
    /// or a 304 describes, not a body on this connection. `announceKeepAlive` adds
    /// "connection: keep-alive" when keeping the connection (what an HTTP/1.0 client needs).
    public static func appendResponseHead(status: Int, headers: HeaderBlock, framing: HTTP1Framing,
                                          keepAlive: Bool, announceKeepAlive: Bool = false, to out: inout [UInt8]) {
        append("HTTP/1.1 ", to: &out)
        appendDecimal(UInt64(clamping: status), to: &out)
        out.append(HTTP1Chars.sp)
        append(reasonPhrase(status), to: &out)
        append("\r\n", to: &out)
        appendFields(headers, keepContentLength: framing == .none, dropHost: false, to: &out)
        appendFraming(framing, to: &out)
        if !keepAlive { append("connection: close\r\n", to: &out) }
        else if announceKeepAlive { append("connection: keep-alive\r\n", to: &out) }
        append("\r\n", to: &out)
    }

    /// Request line from :method/:path (CONNECT: :authority), "host: <:authority>", the
    /// other fields, framing. Without `:authority`, a `host` field of the block is kept.
    public static func appendRequestHead(_ headers: HeaderBlock, framing: HTTP1Framing, to out: inout [UInt8]) {
        headers.bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            var method: UnsafeRawBufferPointer? = nil
            var path: UnsafeRawBufferPointer? = nil
            var authority: UnsafeRawBufferPointer? = nil
            for f in headers.fields where f.nameCount > 1 && raw[Int(f.nameStart)] == HTTP1Chars.colon {
                let name = UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.nameCount))
                let value = UnsafeRawBufferPointer(start: base + Int(f.valueStart), count: Int(f.valueCount))
                if HTTP1Chars.equalsExactly(name, ":method") { method = value }
                else if HTTP1Chars.equalsExactly(name, ":path") { path = value }
                else if HTTP1Chars.equalsExactly(name, ":authority") { authority = value }
            }
            let m = method ?? rawBytes("GET")
            out.append(contentsOf: m)
            out.append(HTTP1Chars.sp)
            if HTTP1Chars.equalsExactly(m, "CONNECT"), let authority { out.append(contentsOf: authority) }
            else if let path, !path.isEmpty { out.append(contentsOf: path) }
            else { out.append(0x2F) }
            append(" HTTP/1.1\r\n", to: &out)
            if let authority, isSafeValue(authority) {
                append("host: ", to: &out)
                out.append(contentsOf: authority)
                append("\r\n", to: &out)
            }
            appendFields(headers, keepContentLength: false, dropHost: authority != nil, to: &out)
        }
        appendFraming(framing, to: &out)
        append("\r\n", to: &out)
    }

    /// "<hex size>\r\n", the line before `size` bytes of chunk data.
    public static func appendChunkHeader(size: Int, to out: inout [UInt8]) {
        appendHex(UInt64(size), to: &out)
        append("\r\n", to: &out)
    }

    /// "\r\n", after a chunk's data.
    public static func appendChunkEnd(to out: inout [UInt8]) {
        append("\r\n", to: &out)
    }

    /// "0\r\n" + trailer fields (no pseudo-fields, nothing that frames or routes) + "\r\n".
    public static func appendLastChunk(trailers: HeaderBlock?, to out: inout [UInt8]) {
        append("0\r\n", to: &out)
        if let trailers { appendFields(trailers, keepContentLength: false, dropHost: true, to: &out) }
        append("\r\n", to: &out)
    }

    /// "HTTP/1.1 100 Continue\r\n\r\n".
    public static let continue100: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    // MARK: - Pieces

    /// The fields of `block` that may be written: no pseudo-fields, no connection-specific
    /// or te fields, no transfer-encoding, content-length only if `keepContentLength`, host
    /// only if not `dropHost`; nothing that is not a token name and a safe value.
    private static func appendFields(_ block: HeaderBlock, keepContentLength: Bool, dropHost: Bool, to out: inout [UInt8]) {
        block.bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for f in block.fields {
                let name = UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.nameCount))
                let value = UnsafeRawBufferPointer(start: base + Int(f.valueStart), count: Int(f.valueCount))
                guard !name.isEmpty, name[0] != HTTP1Chars.colon else { continue }
                switch HTTP1FieldKind(name: name.baseAddress!, count: name.count) {
                case .other, .expect: break
                case .contentLength: if !keepContentLength { continue }
                case .host: if dropHost { continue }
                default: continue
                }
                guard isToken(name), isSafeValue(value) else { continue }
                out.append(contentsOf: name)
                out.append(HTTP1Chars.colon)
                out.append(HTTP1Chars.sp)
                out.append(contentsOf: value)
                append("\r\n", to: &out)
            }
        }
    }

    private static func appendFraming(_ framing: HTTP1Framing, to out: inout [UInt8]) {
        switch framing {
        case .none, .untilClose:
            break
        case .contentLength(let n):
            append("content-length: ", to: &out)
            appendDecimal(n, to: &out)
            append("\r\n", to: &out)
        case .chunked:
            append("transfer-encoding: chunked\r\n", to: &out)
        }
    }

    private static func isToken(_ v: UnsafeRawBufferPointer) -> Bool {
        for b in v where !HTTP1Chars.isTchar(b) { return false }
        return true
    }

    /// A value HTTP/1.1 can carry as it is: field characters only (no CR, LF, NUL) and no
    /// leading or trailing whitespace (which a reader would strip).
    private static func isSafeValue(_ v: UnsafeRawBufferPointer) -> Bool {
        for b in v where !HTTP1Chars.isFieldValueChar(b) { return false }
        if let first = v.first, HTTP1Chars.isWhitespace(first) { return false }
        if let last = v.last, HTTP1Chars.isWhitespace(last) { return false }
        return true
    }

    @inline(__always)
    private static func append(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    static func appendDecimal(_ v: UInt64, to out: inout [UInt8]) {
        var digits = 1
        var t = v
        while t >= 10 { t /= 10; digits += 1 }
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: digits))
        t = v
        var i = start + digits - 1
        while i >= start {
            out[i] = 0x30 &+ UInt8(t % 10)
            t /= 10
            i -= 1
        }
    }

    static func appendHex(_ v: UInt64, to out: inout [UInt8]) {
        var digits = 1
        var t = v
        while t >= 16 { t >>= 4; digits += 1 }
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: digits))
        t = v
        var i = start + digits - 1
        while i >= start {
            let d = UInt8(t & 0xF)
            out[i] = d < 10 ? 0x30 &+ d : 0x61 &+ d &- 10
            t >>= 4
            i -= 1
        }
    }

    /// The reason phrase of common statuses (RFC 9110 §15); others get an empty one, which
    /// the status-line grammar allows.
    static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 103: return "Early Hints"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 203: return "Non-Authoritative Information"
        case 204: return "No Content"
        case 205: return "Reset Content"
        case 206: return "Partial Content"
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 425: return "Too Early"
        case 426: return "Upgrade Required"
        case 428: return "Precondition Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return ""
        }
    }
}
