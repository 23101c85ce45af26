import COpenSSL

/// One entry of OpenSSL's per-thread error queue.
struct OpenSSLErrorEntry: Sendable, Hashable {
    /// The packed error code (`ERR_get_error`).
    let code: UInt
    /// OpenSSL's one-line rendering, plus any data the failing function attached
    /// (e.g. `error:0A000086:SSL routines::certificate verify failed`).
    let text: String

    /// The library that raised it (`ERR_LIB_SSL`, `ERR_LIB_X509`, ...).
    var library: Int32 { ERR_GET_LIB(code) }
    /// The library's reason code (`SSL_R_...`); for `ERR_LIB_SSL`, codes at or above
    /// `SSL_AD_REASON_OFFSET` mean "the peer sent this alert".
    var reason: Int32 { ERR_GET_REASON(code) }
}

/// OpenSSL reports failures through a queue per thread. Every call into OpenSSL that can
/// fail is preceded by `clear()` (so an old entry is never blamed on it) and followed, on
/// failure, by `drain()` (so nothing is left for the next caller on this worker).
enum OpenSSLErrorQueue {
    /// Forgets whatever an earlier call left on this thread's queue.
    @inline(__always)
    static func clear() { ERR_clear_error() }

    /// Removes every entry from this thread's queue, oldest first.
    static func drain() -> [OpenSSLErrorEntry] {
        var entries: [OpenSSLErrorEntry] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer -> String in
                ERR_error_string_n(code, buffer.baseAddress, buffer.count)
                return String(cString: buffer.baseAddress!)
            }
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                text += " (\(String(cString: data)))"
            }
            entries.append(OpenSSLErrorEntry(code: code, text: text))
        }
        return entries
    }

    /// Drains the queue into one line, or `fallback` when it was empty.
    static func drainDescription(fallback: String) -> String {
        let entries = drain()
        return entries.isEmpty ? fallback : entries.map(\.text).joined(separator: "; ")
    }
}
