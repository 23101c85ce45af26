/// Bounds on what `JSONNode.parse` accepts. Input arrives from untrusted peers, so every
/// dimension that costs memory or time is capped; exceeding one is a `JSONParseError`.
public struct JSONLimits: Sendable {
    /// Deepest nesting of arrays and objects; the outermost container is depth 1, so 0 allows
    /// scalars only.
    public var maxDepth: Int
    /// Longest string (member names included), counted in decoded UTF-8 bytes.
    public var maxStringBytes: Int
    /// Most elements in one array, or members in one object.
    public var maxMembers: Int
    /// Longest input, in bytes, whitespace included.
    public var maxBytes: Int

    /// Defaults fit the JSON-lines wire format: 32 levels, 64 KiB strings, 100,000 members,
    /// 4 MiB per document.
    public init(maxDepth: Int = 32, maxStringBytes: Int = 64 * 1024, maxMembers: Int = 100_000, maxBytes: Int = 4 * 1024 * 1024) {
        self.maxDepth = maxDepth
        self.maxStringBytes = maxStringBytes
        self.maxMembers = maxMembers
        self.maxBytes = maxBytes
    }
}

/// Why a document was rejected, and where.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 0-based byte offset into the input of the offending byte (for a string that is too long
    /// or unterminated, its opening quote; for bad UTF-8, the first byte of the sequence; at
    /// the end of the input, the input's length).
    public let offset: Int
    /// What was wrong, in a few words. Never contains input bytes, so it is safe to log.
    public let reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `byte 17: expected ',' or '}'`.
    public var description: String { "byte \(offset): \(reason)" }
}

extension JSONNode {
    /// Parses exactly one RFC 8259 JSON value, optionally surrounded by whitespace (space, tab,
    /// CR, LF), and nothing else.
    ///
    /// Strict: no comments, trailing commas, NaN/Infinity, leading zeros, `+1`, `.5` or `1.`;
    /// strings must be valid UTF-8 (no overlong forms, no encoded surrogates) without raw
    /// control characters, and `\u` surrogates must pair up. Duplicate member names are an
    /// error. Numbers whose value rounds to infinity are an error.
    ///
    /// Never traps on any input: the parser keeps its own stack (no recursion), so nesting is
    /// bounded by `limits.maxDepth`, not by the thread's stack size.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONNode {
        guard bytes.count <= limits.maxBytes else {
            throw JSONParseError(offset: limits.maxBytes, reason: "input longer than \(limits.maxBytes) bytes")
        }
        var parser = JSONParser(bytes: bytes, limits: limits)
        return try parser.parseDocument()
    }

    /// Parses the UTF-8 of `text`; the same contract as `parse(_:limits:)` on bytes, and
    /// offsets count UTF-8 bytes.
    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONNode {
        var text = text
        // `withUTF8` only rethrows untyped errors; carry the typed one out in a Result.
        let result = text.withUTF8 { utf8 in
            Result { () throws(JSONParseError) -> JSONNode in
                try parse(UnsafeRawBufferPointer(utf8), limits: limits)
            }
        }
        return try result.get()
    }
}

/// The parsing state for one document. Iterative: open containers live in `stack`, so a
/// depth bomb costs one `Frame` per level up to `maxDepth` and then an error.
struct JSONParser {
    /// An array or object being filled, innermost last in `stack`.
    private struct Frame {
        enum Kind { case array, object }
        let kind: Kind
        var elements: [JSONNode] = []
        var members: [(key: String, value: JSONNode)] = []
        /// The member name whose value is being parsed (objects only).
        var pendingKey = ""
        /// Every member name so far, built once an object passes `Frame.linearScanLimit`
        /// members: a linear duplicate check would make a 100,000-member object quadratic.
        /// `Hasher` is seeded per process, so a peer cannot pick names that all collide.
        var keySet: Set<String>? = nil

        static let linearScanLimit = 16
    }

    private let bytes: UnsafeRawBufferPointer
    private let limits: JSONLimits
    private var i = 0
    private var stack: [Frame] = []
    /// Decoded bytes of a string with escapes; reused so each string does not allocate twice.
    private var scratch: [UInt8] = []

    init(bytes: UnsafeRawBufferPointer, limits: JSONLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONNode {
        var value: JSONNode
        // Each pass of this loop reads one value at `i`, then closes the containers it
        // completes; it ends when the outermost value is complete.
        nextValue: while true {
            skipWhitespace()
            // Member counts are checked where an element starts (objects: at the name).
            if let top = stack.last, top.kind == .array, top.elements.count >= limits.maxMembers {
                throw fail("more than \(limits.maxMembers) elements in one array")
            }
            guard let byte = peek() else { throw fail("expected a value") }
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                guard stack.count < limits.maxDepth else {
                    throw fail("nesting deeper than \(limits.maxDepth) levels")
                }
                i += 1
                skipWhitespace()
                if byte == UInt8(ascii: "[") {
                    if peek() == UInt8(ascii: "]") {
                        i += 1
                        value = .array([])
                    } else {
                        stack.append(Frame(kind: .array))
                        continue nextValue
                    }
                } else {
                    if peek() == UInt8(ascii: "}") {
                        i += 1
                        value = .object([])
                    } else {
                        stack.append(Frame(kind: .object))
                        try readMemberName()
                        continue nextValue
                    }
                }
            case UInt8(ascii: "\""):
                value = .string(try readString())
            case UInt8(ascii: "t"):
                try readLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try readLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try readLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = try readNumber()
            default:
                throw fail("expected a value")
            }

            // `value` is complete: add it to the innermost container, then either read the
            // next element or close that container, which completes it in turn.
            while !stack.isEmpty {
                let top = stack.count - 1
                skipWhitespace()
                switch stack[top].kind {
                case .array:
                    stack[top].elements.append(value)
                    switch peek() {
                    case UInt8(ascii: ","):
                        i += 1
                        continue nextValue
                    case UInt8(ascii: "]"):
                        i += 1
                        value = .array(stack.removeLast().elements)
                    default:
                        throw fail("expected ',' or ']'")
                    }
                case .object:
                    stack[top].members.append((key: stack[top].pendingKey, value: value))
                    switch peek() {
                    case UInt8(ascii: ","):
                        i += 1
                        skipWhitespace()
                        try readMemberName()
                        continue nextValue
                    case UInt8(ascii: "}"):
                        i += 1
                        value = .object(stack.removeLast().members)
                    default:
                        throw fail("expected ',' or '}'")
                    }
                }
            }
            break nextValue
        }
        skipWhitespace()
        guard i == bytes.count else { throw fail("expected end of input") }
        return value
    }

    // MARK: - Structure

    /// Reads `"name" :` into the innermost frame, which is an object; `i` is at the name.
    private mutating func readMemberName() throws(JSONParseError) {
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a member name") }
        let top = stack.count - 1
        guard stack[top].members.count < limits.maxMembers else {
            throw fail("more than \(limits.maxMembers) members in one object")
        }
        let nameOffset = i
        let name = try readString()
        if Self.isDuplicate(name, in: &stack[top]) {
            throw JSONParseError(offset: nameOffset, reason: "duplicate member name")
        }
        stack[top].pendingKey = name
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
        i += 1
    }

    /// Whether `name` is already a member of `frame`; records it when not.
    private static func isDuplicate(_ name: String, in frame: inout Frame) -> Bool {
        if frame.keySet == nil {
            if frame.members.contains(where: { $0.key == name }) { return true }
            if frame.members.count + 1 >= Frame.linearScanLimit {
                var keys = Set(frame.members.map(\.key))
                keys.insert(name)
                frame.keySet = keys
            }
            return false
        }
        return frame.keySet?.insert(name).inserted == false
    }

    private mutating func readLiteral(_ word: StaticString) throws(JSONParseError) {
        let start = i
        let count = word.utf8CodeUnitCount
        guard bytes.count - start >= count else { throw JSONParseError(offset: start, reason: "expected a value") }
        for k in 0..<count where bytes[start + k] != word.utf8Start[k] {
            throw JSONParseError(offset: start, reason: "expected a value")
        }
        i += count
    }

    // MARK: - Numbers

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func readNumber() throws(JSONParseError) -> JSONNode {
        let start = i
        let negative = peek() == UInt8(ascii: "-")
        if negative { i += 1 }
        guard let first = peekDigit() else { throw fail("expected a digit") }
        var isInteger = true
        // Accumulated with the sign applied, so Int64.min fits; nil after an overflow.
        var integer: Int64?
        i += 1
        if first == 0 {
            if peekDigit() != nil { throw fail("leading zeros are not allowed") }
            integer = 0
        } else {
            integer = negative ? -Int64(first) : Int64(first)
            while let digit = peekDigit() {
                integer = integer.flatMap { Self.appendDigit(digit, to: $0, negative: negative) }
                i += 1
            }
        }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard peekDigit() != nil else { throw fail("expected a digit after '.'") }
            while peekDigit() != nil { i += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
            guard peekDigit() != nil else { throw fail("expected a digit in the exponent") }
            while peekDigit() != nil { i += 1 }
        }
        if isInteger, let integer {
            return .integer(integer)
        }
        // The grammar is checked above; the stdlib only converts (it would also accept forms
        // JSON does not, such as "inf" or hex, which never reach it).
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            throw JSONParseError(offset: start, reason: "number out of range")
        }
        return .double(double)
    }

    private static func appendDigit(_ digit: UInt8, to value: Int64, negative: Bool) -> Int64? {
        let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) = negative
            ? shifted.subtractingReportingOverflow(Int64(digit))
            : shifted.addingReportingOverflow(Int64(digit))
        return o1 || o2 ? nil : next
    }

    private func peekDigit() -> UInt8? {
        guard let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        return byte - UInt8(ascii: "0")
    }

    // MARK: - Strings

    /// Reads a string; `i` is at its opening quote and ends after the closing one.
    private mutating func readString() throws(JSONParseError) -> String {
        let quote = i
        i += 1
        let start = i
        // Bytes before `runStart` are already decoded into `scratch`; a string without
        // escapes never touches `scratch` and is decoded straight from the input.
        var runStart = start
        var escaped = false
        scratch.removeAll(keepingCapacity: true)
        while true {
            guard let byte = peek() else { throw JSONParseError(offset: quote, reason: "unterminated string") }
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw JSONParseError(offset: quote, reason: "unterminated string") }
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
                try readEscape()
                runStart = i
                escaped = true
            } else if byte < 0x20 {
                throw fail("control character in string")
            } else if byte < 0x80 {
                i += 1
            } else {
                i += try utf8SequenceLength(at: i)
            }
            guard scratch.count + (i - runStart) <= limits.maxStringBytes else {
                throw JSONParseError(offset: quote, reason: "string longer than \(limits.maxStringBytes) bytes")
            }
        }
        let string: String
        if escaped {
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
            string = String(decoding: scratch, as: UTF8.self)
        } else {
            string = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        }
        i += 1  // closing quote
        return string
    }

    /// Decodes one escape into `scratch`; `i` is at the backslash and ends after the escape.
    private mutating func readEscape() throws(JSONParseError) {
        let backslash = i
        guard let kind = peek(at: i + 1) else { throw fail("invalid escape") }
        let simple: UInt8? = switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): kind
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let simple {
            scratch.append(simple)
            i += 2
            return
        }
        guard kind == UInt8(ascii: "u") else { throw fail("invalid escape") }
        guard let unit = hex4(at: i + 2) else { throw fail("invalid \\u escape") }
        i += 6
        var scalar = UInt32(unit)
        switch unit {
        case 0xD800...0xDBFF:
            // A high surrogate counts only with a `\u` low surrogate right after it.
            guard peek() == UInt8(ascii: "\\"), peek(at: i + 1) == UInt8(ascii: "u"),
                  let low = hex4(at: i + 2), (0xDC00...0xDFFF).contains(low) else {
                throw JSONParseError(offset: backslash, reason: "unpaired surrogate")
            }
            i += 6
            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        case 0xDC00...0xDFFF:
            throw JSONParseError(offset: backslash, reason: "unpaired surrogate")
        default:
            break
        }
        appendUTF8(scalar)
    }

    private func hex4(at offset: Int) -> UInt16? {
        guard offset >= 0, bytes.count - offset >= 4 else { return nil }
        var value: UInt16 = 0
        for k in offset..<offset + 4 {
            let byte = bytes[k]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// `scalar` is a Unicode scalar value (surrogates were excluded by the caller).
    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Length of the well-formed UTF-8 sequence at `offset`, whose first byte is >= 0x80.
    /// The ranges are RFC 3629 §4's: they exclude overlong forms (C0, C1, E0 80..9F,
    /// F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points past U+10FFFF (F4 90.., F5..).
    private func utf8SequenceLength(at offset: Int) throws(JSONParseError) -> Int {
        let invalid = JSONParseError(offset: offset, reason: "invalid UTF-8")
        let length: Int
        let second: ClosedRange<UInt8>
        switch bytes[offset] {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: throw invalid
        }
        guard bytes.count - offset >= length, second.contains(bytes[offset + 1]) else { throw invalid }
        for k in offset + 2..<offset + length where bytes[k] & 0xC0 != 0x80 {
            throw invalid
        }
        return length
    }

    // MARK: - Bytes

    private func peek() -> UInt8? {
        i < bytes.count ? bytes[i] : nil
    }

    private func peek(at offset: Int) -> UInt8? {
        offset < bytes.count ? bytes[offset] : nil
    }

    /// RFC 8259 whitespace only: space, tab, LF, CR.
    private mutating func skipWhitespace() {
        while let byte = peek(),
              byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            i += 1
        }
    }

    private func fail(_ reason: String) -> JSONParseError {
        JSONParseError(offset: i, reason: reason)
    }
}
