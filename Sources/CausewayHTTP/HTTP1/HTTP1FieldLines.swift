#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fields whose meaning the codec acts on; everything else is `.other` and is passed on.
enum HTTP1FieldKind: UInt8 {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case upgrade
    case te
    case expect

    /// The kind of a field named `p[0..<n]` (tchar bytes, any case). Lengths first: most
    /// names have none of these lengths.
    @inline(__always)
    init(name p: UnsafeRawPointer, count n: Int) {
        switch n {
        case 2: self = HTTP1Chars.equalsLowercase(p, n, "te") ? .te : .other
        case 4: self = HTTP1Chars.equalsLowercase(p, n, "host") ? .host : .other
        case 6: self = HTTP1Chars.equalsLowercase(p, n, "expect") ? .expect : .other
        case 7: self = HTTP1Chars.equalsLowercase(p, n, "upgrade") ? .upgrade : .other
        case 10:
            if HTTP1Chars.equalsLowercase(p, n, "connection") { self = .connection }
            else if HTTP1Chars.equalsLowercase(p, n, "keep-alive") { self = .keepAlive }
            else { self = .other }
        case 14: self = HTTP1Chars.equalsLowercase(p, n, "content-length") ? .contentLength : .other
        case 16: self = HTTP1Chars.equalsLowercase(p, n, "proxy-connection") ? .proxyConnection : .other
        case 17: self = HTTP1Chars.equalsLowercase(p, n, "transfer-encoding") ? .transferEncoding : .other
        default: self = .other
        }
    }

    /// Fields that describe this connection only and must not cross to HTTP/2
    /// (RFC 9113 §8.2.2; `te` is handled on its own).
    var isConnectionSpecific: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .upgrade, .transferEncoding: return true
        default: return false
        }
    }
}

/// One field line of a head: offsets into the section it was parsed from, its value already
/// stripped of surrounding whitespace.
struct HTTP1RawField {
    var nameStart: Int32
    var nameCount: Int32
    var valueStart: Int32
    var valueCount: Int32
    var kind: HTTP1FieldKind

    @inline(__always)
    func name(in p: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + Int(nameStart), count: Int(nameCount))
    }

    @inline(__always)
    func value(in p: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + Int(valueStart), count: Int(valueCount))
    }
}

/// The field-line grammar of RFC 9112 §5, strictly: `name ":" OWS value OWS CRLF`.
enum HTTP1FieldLines {
    /// Parses the field lines of `p[start..<end]` (which ends with the empty line's CRLF; every
    /// LF in it is preceded by CR, as `HTTP1HeadBuffer` checked) into `fields`, replacing its
    /// contents. Refuses obs-fold, whitespace before the colon, names that are not tokens,
    /// and control characters (NUL, bare CR, ...) in values. More than `maxCount` fields is
    /// `tooMany`.
    static func parse(_ p: UnsafeRawPointer, from start: Int, to end: Int, maxCount: Int, side: HTTP1Side,
                      tooMany: HTTP1ParseError, into fields: inout [HTTP1RawField]) throws(HTTP1ParseError) {
        fields.removeAll(keepingCapacity: true)
        var i = start
        while true {
            // The line's CR; the LF is found with memchr, which is much faster than a byte loop.
            let lf = UnsafeRawPointer(memchr(p + i, Int32(HTTP1Chars.lf), end - i)!) - p
            let lineEnd = lf - 1
            if lineEnd == i { return }
            let first = p.load(fromByteOffset: i, as: UInt8.self)
            if HTTP1Chars.isWhitespace(first) { throw side.error(400, "obs-fold") }

            var j = i
            while j < lineEnd && HTTP1Chars.isTchar(p.load(fromByteOffset: j, as: UInt8.self)) { j += 1 }
            let stop = j < lineEnd ? p.load(fromByteOffset: j, as: UInt8.self) : HTTP1Chars.cr
            if stop != HTTP1Chars.colon {
                if stop == HTTP1Chars.cr && j < lineEnd { throw side.error(400, "bare-cr") }
                if j > i && HTTP1Chars.isWhitespace(stop) { throw side.error(400, "space-before-colon") }
                if j == lineEnd { throw side.error(400, "missing-colon") }
                throw side.error(400, "invalid-header-name")
            }
            if j == i { throw side.error(400, "empty-header-name") }

            var v = j + 1
            while v < lineEnd && HTTP1Chars.isWhitespace(p.load(fromByteOffset: v, as: UInt8.self)) { v += 1 }
            var k = v
            while k < lineEnd {
                let b = p.load(fromByteOffset: k, as: UInt8.self)
                if !HTTP1Chars.isFieldValueChar(b) {
                    if b == HTTP1Chars.cr { throw side.error(400, "bare-cr") }
                    if b == 0 { throw side.error(400, "nul-in-value") }
                    throw side.error(400, "invalid-header-value")
                }
                k += 1
            }
            var ve = lineEnd
            while ve > v && HTTP1Chars.isWhitespace(p.load(fromByteOffset: ve - 1, as: UInt8.self)) { ve -= 1 }

            if fields.count >= maxCount { throw tooMany }
            if fields.capacity == 0 { fields.reserveCapacity(16) }
            fields.append(HTTP1RawField(nameStart: Int32(i), nameCount: Int32(j - i),
                                        valueStart: Int32(v), valueCount: Int32(ve - v),
                                        kind: HTTP1FieldKind(name: p + i, count: j - i)))
            i = lf + 1
        }
    }

    /// Calls `body` with each non-empty element of a comma-separated list value (OWS around
    /// elements removed). Stops early when `body` returns false; returns false then.
    @discardableResult
    static func forEachElement(_ v: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard let p = v.baseAddress else { return true }
        var i = 0
        let n = v.count
        while i <= n {
            var e = i
            while e < n && p.load(fromByteOffset: e, as: UInt8.self) != 0x2C { e += 1 }
            var s = i, t = e
            while s < t && HTTP1Chars.isWhitespace(p.load(fromByteOffset: s, as: UInt8.self)) { s += 1 }
            while t > s && HTTP1Chars.isWhitespace(p.load(fromByteOffset: t - 1, as: UInt8.self)) { t -= 1 }
            if t > s && !body(UnsafeRawBufferPointer(start: p + s, count: t - s)) { return false }
            i = e + 1
        }
        return true
    }

    /// The value of a content-length field: one or more identical decimal numbers separated
    /// by commas (RFC 9110 §8.6 lets a recipient accept "5, 5"); nil for anything else (a
    /// sign, inner spaces, an empty element, differing numbers, more than 19 digits).
    static func contentLength(_ v: UnsafeRawBufferPointer) -> UInt64? {
        guard let p = v.baseAddress, !v.isEmpty else { return nil }
        var result: UInt64? = nil
        var i = 0
        let n = v.count
        while true {
            var digits = 0
            var value: UInt64 = 0
            while i < n {
                let d = p.load(fromByteOffset: i, as: UInt8.self) &- 0x30
                guard d < 10 else { break }
                value = value &* 10 &+ UInt64(d)
                digits += 1
                i += 1
            }
            // 19 digits cannot overflow a UInt64.
            guard digits > 0, digits <= 19 else { return nil }
            if let r = result, r != value { return nil }
            result = value
            while i < n && HTTP1Chars.isWhitespace(p.load(fromByteOffset: i, as: UInt8.self)) { i += 1 }
            if i == n { return result }
            guard p.load(fromByteOffset: i, as: UInt8.self) == 0x2C else { return nil }
            i += 1
            while i < n && HTTP1Chars.isWhitespace(p.load(fromByteOffset: i, as: UInt8.self)) { i += 1 }
        }
    }

    /// What a message's framing fields say, gathered from its raw fields.
    struct Framing {
        var contentLength: UInt64? = nil
        /// Index (in the raw fields) of the first content-length field.
        var contentLengthField: Int? = nil
        /// Number of transfer-encoding fields, and whether the only one is exactly "chunked".
        var transferEncodingFields = 0
        var chunked = false
        /// Connection options.
        var close = false
        var keepAlive = false
        /// The connection field names other fields, which must then be removed too.
        var connectionNamesFields = false
    }

    /// Reads the framing and connection fields of `fields`. Refuses content-length values
    /// that are malformed or disagree ("invalid-content-length").
    static func framing(of fields: [HTTP1RawField], in p: UnsafeRawPointer, side: HTTP1Side) throws(HTTP1ParseError) -> Framing {
        var f = Framing()
        for (index, field) in fields.enumerated() {
            switch field.kind {
            case .contentLength:
                guard let n = contentLength(field.value(in: p)) else { throw side.error(400, "invalid-content-length") }
                if let previous = f.contentLength, previous != n { throw side.error(400, "invalid-content-length") }
                if f.contentLengthField == nil { f.contentLengthField = index }
                f.contentLength = n
            case .transferEncoding:
                f.transferEncodingFields += 1
                f.chunked = f.transferEncodingFields == 1 && HTTP1Chars.equalsLowercase(
                    p + Int(field.valueStart), Int(field.valueCount), "chunked")
            case .connection:
                forEachElement(field.value(in: p)) { token in
                    let t = token.baseAddress!
                    if HTTP1Chars.equalsLowercase(t, token.count, "close") { f.close = true }
                    else if HTTP1Chars.equalsLowercase(t, token.count, "keep-alive") { f.keepAlive = true }
                    else if !isHandledOption(token) { f.connectionNamesFields = true }
                    return true
                }
            default:
                break
            }
        }
        return f
    }

    /// Connection options that name fields the codec removes or interprets anyway; the rest
    /// name fields to drop. Options naming fields we need (host, content-length) cannot
    /// remove them: a client must not strip what the proxy relies on.
    private static func isHandledOption(_ token: UnsafeRawBufferPointer) -> Bool {
        guard let t = token.baseAddress else { return true }
        let n = token.count
        return HTTP1Chars.equalsLowercase(t, n, "upgrade") || HTTP1Chars.equalsLowercase(t, n, "te")
            || HTTP1Chars.equalsLowercase(t, n, "host") || HTTP1Chars.equalsLowercase(t, n, "content-length")
            || HTTP1Chars.equalsLowercase(t, n, "transfer-encoding") || HTTP1Chars.equalsLowercase(t, n, "proxy-connection")
            || HTTP1Chars.equalsLowercase(t, n, "expect")
    }

    /// Removes from `block` every field a connection option names, and the connection
    /// fields themselves (the rare path: only when `Framing.connectionNamesFields`).
    static func removingConnectionNamed(_ block: HeaderBlock) -> HeaderBlock {
        var named: [[UInt8]] = []
        for i in 0..<block.count where block.name(at: i, equals: "connection") {
            block.withValue(at: i) { v in
                _ = forEachElement(v) { token in
                    named.append(token.map(HTTP1Chars.lower))
                    return true
                }
            }
        }
        var out = HeaderBlock()
        out.reserveCapacity(bytes: block.bytes.count, fields: block.count)
        block.bytes.withUnsafeBytes { raw in
            for i in 0..<block.count {
                let f = block.fields[i]
                let name = UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameStart + f.nameCount)])
                if block.isPseudoHeader(at: i) {
                    out.append(fieldAt: i, of: block)
                    continue
                }
                if block.name(at: i, equals: "connection") || named.contains(where: { $0.elementsEqual(name) }) { continue }
                out.append(fieldAt: i, of: block)
            }
        }
        return out
    }
}
