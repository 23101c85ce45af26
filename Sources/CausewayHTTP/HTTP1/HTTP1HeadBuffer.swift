#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the end of a head (start line and field lines) or of a trailer section, which may
/// arrive in any number of pieces, and keeps the pieces of an unfinished one.
///
/// Lines must end in CRLF: an LF without CR before it is refused here ("bare-lf"), as soon as
/// it is seen; a CR without LF stays inside its line and the line's parser refuses it. The
/// section ends at the first empty line. Nothing past `limit` bytes is looked at, so the
/// verdict for a given byte sequence is the same however it was split.
///
/// A complete head that arrived in one piece is parsed where it lies in the caller's input
/// (no copy); only heads split across reads are copied, into `buffer`.
struct HTTP1HeadBuffer {
    /// Bytes of an unfinished section.
    private(set) var buffer: [UInt8] = []
    /// Offset, counted from the section's first byte, where the current line starts.
    private var lineStart = 0
    /// Where the section proper starts, after empty lines skipped before a request line.
    private var contentStart = 0
    /// True once a non-empty line has ended (the start line of a head).
    private var sawLine = false
    /// The last byte of `buffer` (the CR of a CRLF split across reads).
    private var lastByte: UInt8 = 0

    /// True while part of a section is buffered.
    var pending: Bool { !buffer.isEmpty }

    /// Where a complete section lies and how much of the input it used.
    enum Found {
        /// The section is `input[start..<end]`: parse it in place.
        case inInput(start: Int, end: Int)
        /// The section is `buffer[start...]` (the buffer now holds all of it); the input's
        /// first `consumed` bytes were its last ones.
        case inBuffer(start: Int, consumed: Int)
    }

    /// Looks for the end of the section in `input` (which follows whatever is buffered).
    /// Returns nil after buffering all of `input` when the section is still unfinished.
    /// - Parameters:
    ///   - skipLeadingEmptyLines: a request line may be preceded by empty lines (RFC 9112
    ///     §2.2); they count against `limit`.
    ///   - limit: the section's maximum size; over it, `tooLarge(startLineEnded)` is thrown.
    mutating func scan(_ input: UnsafeRawBufferPointer, side: HTTP1Side, skipLeadingEmptyLines: Bool, limit: Int,
                       tooLarge: (_ startLineEnded: Bool) -> HTTP1ParseError) throws(HTTP1ParseError) -> Found? {
        let base = buffer.count
        let count = input.count
        guard count > 0, let p = input.baseAddress else { return nil }
        let searchable = min(count, max(0, limit - base))
        var i = 0
        while i < searchable {
            guard let hit = memchr(p + i, Int32(HTTP1Chars.lf), searchable - i) else { break }
            let lf = UnsafeRawPointer(hit) - p
            let before = lf > 0 ? p.load(fromByteOffset: lf - 1, as: UInt8.self) : (base > 0 ? lastByte : 0)
            guard before == HTTP1Chars.cr else { throw side.error(400, "bare-lf") }
            let crAt = base + lf - 1
            i = lf + 1
            if crAt == lineStart {
                // An empty line: the end of the section, or one to skip before a request line.
                if skipLeadingEmptyLines && !sawLine {
                    lineStart = base + i
                    contentStart = lineStart
                    continue
                }
                if base == 0 {
                    let start = contentStart
                    reset()
                    return .inInput(start: start, end: i)
                }
                buffer.append(contentsOf: UnsafeRawBufferPointer(start: p, count: i))
                return .inBuffer(start: contentStart, consumed: i)
            }
            sawLine = true
            lineStart = base + i
        }
        if searchable < count { throw tooLarge(sawLine) }
        buffer.append(contentsOf: input)
        lastByte = p.load(fromByteOffset: count - 1, as: UInt8.self)
        return nil
    }

    /// Forgets the section after it was parsed (from the buffer, if it was there); a large
    /// buffer is released so that an idle connection does not keep it.
    mutating func reset() {
        if !buffer.isEmpty { buffer.removeAll(keepingCapacity: buffer.capacity <= 4096) }
        lineStart = 0
        contentStart = 0
        sawLine = false
        lastByte = 0
    }

    /// Calls `body` with the buffered section from `start`, then resets. The buffer is moved
    /// out for the call so that `body` may use the parser freely.
    mutating func withBufferedSection<R>(from start: Int,
                                         _ body: (UnsafeRawBufferPointer) throws(HTTP1ParseError) -> R) throws(HTTP1ParseError) -> R {
        var bytes: [UInt8] = []
        swap(&bytes, &buffer)
        defer {
            swap(&bytes, &buffer)
            reset()
        }
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        return try bytes.withUnsafeBytes { raw -> Result<R, HTTP1ParseError> in
            do throws(HTTP1ParseError) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: raw[start...])))
            } catch {
                return .failure(error)
            }
        }.get()
    }
}
