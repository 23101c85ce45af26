/// Escaping of diagnostic messages, so that one message is always one line.
///
/// Messages quote bytes a peer controls. Unescaped, a newline in them would let the peer
/// append a forged line ("causeway[worker 0]: ...") and an escape sequence could drive the
/// operator's terminal. Rules, applied byte by byte:
/// - `\n`, `\r`, `\t` become those two-character escapes; other bytes below 0x20 and 0x7F
///   become `\xNN` (lowercase hex);
/// - a backslash becomes `\\`, so an escape in the output always means an escaped byte and
///   never a peer who typed `\x0a`;
/// - well-formed UTF-8 is kept, except C1 controls, U+2028/U+2029 and bidi controls (see
///   `UTF8Scan.isHazardous`), whose bytes are written as `\xNN` each;
/// - every byte that does not start a well-formed UTF-8 sequence becomes `\xNN`.
/// Pure functions: callable from any thread.
public enum LogEscaping {
    /// Marks a message cut at the length limit.
    static let truncationMark: [UInt8] = Array("...".utf8)

    /// Appends `message`, escaped, to `line`, writing at most `limit` bytes of escaped text;
    /// a longer message is cut at a character or escape boundary and ends in `...`.
    ///
    /// - Returns: `true` when the whole message fitted.
    @discardableResult
    public static func appendEscaped(_ message: UnsafeRawBufferPointer, to line: inout [UInt8], limit: Int = .max) -> Bool {
        // Reserve room for the mark up front so a cut message still respects `limit`.
        let budget = limit == .max ? Int.max : max(0, limit - truncationMark.count)
        var written = 0
        var i = 0
        let n = message.count
        while i < n {
            let b = message[i]
            // Fast path: printable ASCII other than the backslash is copied as is.
            if b >= 0x20 && b < 0x7F && b != 0x5C {
                if written + 1 > budget && !fitsRest(message, from: i, written: written, limit: limit) {
                    return cut(&line)
                }
                line.append(b)
                written += 1
                i += 1
                continue
            }
            var unit: (bytes: Int, width: Int)  // input bytes consumed, output bytes produced
            if b < 0x80 {
                unit = (1, escapedWidth(ascii: b))
            } else if let (length, scalar) = UTF8Scan.sequence(in: message, at: i) {
                unit = (length, UTF8Scan.isHazardous(scalar) ? 4 * length : length)
            } else {
                unit = (1, 4)
            }
            if written + unit.width > budget && !fitsRest(message, from: i, written: written, limit: limit) {
                return cut(&line)
            }
            if b < 0x80 {
                appendEscaped(ascii: b, to: &line)
            } else if unit.width == unit.bytes {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: message[i..<(i + unit.bytes)]))
            } else {
                for k in i..<(i + unit.bytes) { appendHexEscape(message[k], to: &line) }
            }
            written += unit.width
            i += unit.bytes
        }
        return true
    }

    /// Appends `message`, escaped (see `appendEscaped(_:to:limit:)`).
    @discardableResult
    public static func appendEscaped(_ message: String, to line: inout [UInt8], limit: Int = .max) -> Bool {
        var text = message  // A copy shares storage; `withUTF8` needs a mutable value.
        return text.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), to: &line, limit: limit) }
    }

    /// `message` escaped, as a `String` (tests, and callers off the hot path).
    public static func escaped(_ message: String) -> String {
        var line: [UInt8] = []
        appendEscaped(message, to: &line)
        return String(decoding: line, as: UTF8.self)
    }

    // MARK: Pieces

    private static func cut(_ line: inout [UInt8]) -> Bool {
        line.append(contentsOf: truncationMark)
        return false
    }

    /// Whether the rest of the message, from `i`, fits in `limit` without the mark: only
    /// asked once the budget that keeps room for the mark is exhausted, so a message that
    /// fits exactly is not cut.
    private static func fitsRest(_ message: UnsafeRawBufferPointer, from i: Int, written: Int, limit: Int) -> Bool {
        var total = written
        var j = i
        while j < message.count {
            let b = message[j]
            if b < 0x80 {
                total += escapedWidth(ascii: b)
                j += 1
            } else if let (length, scalar) = UTF8Scan.sequence(in: message, at: j) {
                total += UTF8Scan.isHazardous(scalar) ? 4 * length : length
                j += length
            } else {
                total += 4
                j += 1
            }
            if total > limit { return false }
        }
        return true
    }

    @inline(__always)
    private static func escapedWidth(ascii b: UInt8) -> Int {
        switch b {
        case 0x0A, 0x0D, 0x09, 0x5C: return 2
        case 0x20..<0x7F: return 1
        default: return 4
        }
    }

    @inline(__always)
    private static func appendEscaped(ascii b: UInt8, to line: inout [UInt8]) {
        switch b {
        case 0x0A: line.append(0x5C); line.append(UInt8(ascii: "n"))
        case 0x0D: line.append(0x5C); line.append(UInt8(ascii: "r"))
        case 0x09: line.append(0x5C); line.append(UInt8(ascii: "t"))
        case 0x5C: line.append(0x5C); line.append(0x5C)
        case 0x20..<0x7F: line.append(b)
        default: appendHexEscape(b, to: &line)
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func appendHexEscape(_ b: UInt8, to line: inout [UInt8]) {
        line.append(0x5C)
        line.append(UInt8(ascii: "x"))
        line.append(hexDigits[Int(b >> 4)])
        line.append(hexDigits[Int(b & 0x0F)])
    }
}
