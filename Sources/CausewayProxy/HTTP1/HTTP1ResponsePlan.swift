#if canImport(Glibc)
import Glibc
#endif
import CausewayHTTP

/// How one response goes to an HTTP/1.1 client: the framing its head announces, what
/// becomes of the body the upstream sends, and whether the connection stays open after it.
/// Pure: decided once per response from its head.
struct HTTP1ResponsePlan: Equatable {
    /// What the connection does with the response body.
    enum Body: Equatable {
        /// None follows the head.
        case none
        /// The upstream still sends a body the client must not get (a response to HEAD, a
        /// 204 or 304 not ended with its head): taken, credited and dropped.
        case discard
        /// Exactly this many bytes, raw.
        case contentLength(UInt64)
        /// Chunked, with any trailers after the last chunk.
        case chunked
        /// Raw until the connection closes (an HTTP/1.0 client, no trusted length).
        case untilClose
    }

    /// The framing written in the head (`HTTP1Writer`; `.none` keeps a content-length the
    /// upstream gave, which for HEAD and 304 describes the representation).
    var headFraming: HTTP1Framing
    var body: Body
    var keepAlive: Bool

    /// - Parameters:
    ///   - contentLength: the response's content-length if it has a trusted one
    ///     (`HeaderBlock.scanResponseFields`).
    ///   - endStream: the upstream ended the response with its head.
    ///   - keepAlive: whether the connection may stay open after this response.
    static func make(status: Int, contentLength: UInt64?, endStream: Bool, requestIsHEAD: Bool, clientMinorVersion: Int,
                     keepAlive: Bool) -> HTTP1ResponsePlan {
        // RFC 9110 §6.4.1: responses to HEAD, 1xx, 204 and 304 never carry content.
        if requestIsHEAD || status == 204 || status == 304 || status < 200 {
            return HTTP1ResponsePlan(headFraming: .none, body: endStream ? .none : .discard, keepAlive: keepAlive)
        }
        if endStream { return HTTP1ResponsePlan(headFraming: .contentLength(0), body: .none, keepAlive: keepAlive) }
        // nghttp2 (HTTP/2 upstreams) and the HTTP/1.1 response parser both refuse a body
        // that disagrees with its content-length, so a single well-formed value is trusted.
        if let length = contentLength {
            return HTTP1ResponsePlan(headFraming: .contentLength(length), body: .contentLength(length), keepAlive: keepAlive)
        }
        if clientMinorVersion >= 1 { return HTTP1ResponsePlan(headFraming: .chunked, body: .chunked, keepAlive: keepAlive) }
        return HTTP1ResponsePlan(headFraming: .untilClose, body: .untilClose, keepAlive: false)
    }
}

extension HeaderBlock {
    /// The value of the only `content-length` field, if there is exactly one and it is a
    /// plain decimal number; nil otherwise.
    var trustedContentLength: UInt64? { scanResponseFields(also: nil).contentLength }

    /// One pass over the fields: the trusted content-length (as `trustedContentLength`) and
    /// whether a field named `also` is present.
    func scanResponseFields(also: StaticString?) -> (contentLength: UInt64?, hasAlso: Bool) {
        var found: UInt64?
        var duplicate = false
        var hasAlso = false
        let alsoCount = also.map { Int32($0.utf8CodeUnitCount) } ?? -1
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for f in fields {
                if f.nameCount == 14 && memcmp(base + Int(f.nameStart), Self.contentLengthName.utf8Start, 14) == 0 {
                    if found != nil { duplicate = true }
                    found = Self.decimal(UnsafeRawBufferPointer(start: base + Int(f.valueStart), count: Int(f.valueCount)))
                    if found == nil { duplicate = true }
                } else if f.nameCount == alsoCount, let also, memcmp(base + Int(f.nameStart), also.utf8Start, Int(alsoCount)) == 0 {
                    hasAlso = true
                }
            }
        }
        return (duplicate ? nil : found, hasAlso)
    }

    private static let contentLengthName: StaticString = "content-length"

    /// A plain decimal number of at most 18 digits; nil otherwise.
    private static func decimal(_ v: UnsafeRawBufferPointer) -> UInt64? {
        guard !v.isEmpty, v.count <= 18 else { return nil }
        var n: UInt64 = 0
        for b in v {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + UInt64(b - 0x30)
        }
        return n
    }
}
