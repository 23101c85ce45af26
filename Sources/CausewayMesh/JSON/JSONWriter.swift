extension JSONNode {
    /// The value as compact JSON text: no whitespace, members in order, strings escaped as
    /// `quoted(_:)` does. Integers print in decimal; doubles print as Swift's `description`
    /// (shortest text that reads back to the same value, e.g. `0.1`, `1e+300`, `-0.0`), and a
    /// non-finite double, which JSON cannot express, prints as `null`.
    ///
    /// Recurses once per nesting level; parsed values are at most `JSONLimits.maxDepth` deep.
    public func compact() -> String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }

    /// `s` as a JSON string literal, quotes included: `"` and `\` are escaped, control
    /// characters become `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`, and everything else
    /// (non-ASCII included) is copied as UTF-8.
    public static func quoted(_ s: String) -> String {
        var writer = JSONWriter()
        writer.writeString(s)
        return writer.text
    }
}

/// Appends JSON text as UTF-8 bytes and converts once at the end, so output costs one
/// growing buffer rather than a string concatenation per token.
struct JSONWriter {
    private var out: [UInt8] = []

    var text: String { String(decoding: out, as: UTF8.self) }

    mutating func write(_ node: JSONNode) {
        switch node {
        case .null:
            append("null")
        case .bool(let value):
            append(value ? "true" : "false")
        case .integer(let value):
            append(String(value))
        case .double(let value):
            // Swift's description is valid JSON for every finite value: it always has a digit
            // on both sides of a '.', and its exponent form is `1e+300`.
            append(value.isFinite ? value.description : "null")
        case .string(let value):
            writeString(value)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key)
                out.append(UInt8(ascii: ":"))
                write(member.value)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    mutating func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0..<0x20:
                append("\\u00")
                out.append(Self.hexDigit(byte >> 4))
                out.append(Self.hexDigit(byte & 0x0F))
            default:
                // Bytes of multi-byte sequences are >= 0x80 and pass through: a Swift
                // string is always valid UTF-8, so the output is too.
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func append(_ s: String) {
        out.append(contentsOf: s.utf8)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
