/// Byte comparisons shared by the policy engines. They read request bytes in place (borrowed
/// from the header block) against values compiled to `[UInt8]` once per snapshot, so the
/// per-request paths neither allocate nor build Strings.
enum PolicyBytes {
    /// `bytes` equals `value`, byte for byte.
    @inline(__always)
    static func equal(_ bytes: UnsafeRawBufferPointer, _ value: [UInt8]) -> Bool {
        guard bytes.count == value.count else { return false }
        for i in 0..<value.count where bytes[i] != value[i] { return false }
        return true
    }

    /// `bytes` starts with `prefix`.
    @inline(__always)
    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        for i in 0..<prefix.count where bytes[i] != prefix[i] { return false }
        return true
    }

    /// `bytes` ends with `suffix`.
    @inline(__always)
    /// True when `needle` occurs in `bytes` (naive scan: patterns and identities are short).
    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= bytes.count else { return false }
        if needle.isEmpty { return true }
        for start in 0...(bytes.count - needle.count) {
            var i = 0
            while i < needle.count && bytes[start + i] == needle[i] { i += 1 }
            if i == needle.count { return true }
        }
        return false
    }

    static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        guard bytes.count >= suffix.count else { return false }
        let offset = bytes.count - suffix.count
        for i in 0..<suffix.count where bytes[offset + i] != suffix[i] { return false }
        return true
    }

    /// Splits `:path` at its first `?`: the path proper, and the query after the `?` (empty
    /// when there is none). Both borrow `path`.
    @inline(__always)
    static func splitQuery(_ path: UnsafeRawBufferPointer) -> (path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) {
        var end = 0
        while end < path.count, path[end] != UInt8(ascii: "?") { end += 1 }
        let query = end < path.count ? UnsafeRawBufferPointer(rebasing: path[(end + 1)...]) : UnsafeRawBufferPointer(start: nil, count: 0)
        return (UnsafeRawBufferPointer(rebasing: path[..<end]), query)
    }

    /// `method` is one of the methods a client may repeat without changing the outcome
    /// (RFC 9110 §9.2.2 idempotent methods, minus TRACE, which proxies do not retry).
    static func isIdempotentMethod(_ method: UnsafeRawBufferPointer) -> Bool {
        switch method.count {
        case 3: return equal(method, get) || equal(method, put)
        case 4: return equal(method, head)
        case 6: return equal(method, delete)
        case 7: return equal(method, options)
        default: return false
        }
    }

    private static let get = Array("GET".utf8)
    private static let put = Array("PUT".utf8)
    private static let head = Array("HEAD".utf8)
    private static let delete = Array("DELETE".utf8)
    private static let options = Array("OPTIONS".utf8)
}
