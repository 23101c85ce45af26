/// A parsed JSON value. Objects keep member order; duplicate keys are a parse error.
///
/// Built by `JSONNode.parse` (strict RFC 8259, bounded by `JSONLimits`) and printed by
/// `compact()`. A plain value: no reference to the input bytes is kept.
///
/// Equality is structural and order-sensitive: two objects are equal when they have the same
/// members in the same order. Numbers compare within their case only, so `.integer(1)` is not
/// equal to `.double(1)`; `.double` follows IEEE 754 (`-0.0 == 0.0`, NaN equals nothing).
public enum JSONNode: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number without fraction or exponent that fits Int64. `-0` parses as `.integer(0)`.
    case integer(Int64)
    /// Any other number (fraction/exponent, or an integer beyond Int64). Always finite when
    /// parsed: text that would round to infinity is rejected.
    case double(Double)
    case string(String)
    case array([JSONNode])
    case object([(key: String, value: JSONNode)])

    // By hand: tuples are not Equatable, so the compiler cannot synthesise this for `.object`.
    public static func == (lhs: JSONNode, rhs: JSONNode) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case let (.bool(a), .bool(b)):
            return a == b
        case let (.integer(a), .integer(b)):
            return a == b
        case let (.double(a), .double(b)):
            return a == b
        case let (.string(a), .string(b)):
            return a == b
        case let (.array(a), .array(b)):
            return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.key != y.key || x.value != y.value {
                return false
            }
            return true
        default:
            return false
        }
    }
}

extension JSONNode {
    /// The value of the member named `key` when this is an object, nil otherwise (or when no
    /// member has that name). A linear scan: objects are small in the wire format, and a
    /// parsed object has at most one member per name.
    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.key == key {
            return member.value
        }
        return nil
    }

    /// The string when this is `.string`, nil otherwise.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer when this is `.integer`, nil otherwise (a `.double`, even `2.0`, is not
    /// converted: the wire format says which it sent).
    public var intValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The flag when this is `.bool`, nil otherwise.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements when this is `.array`, nil otherwise.
    public var arrayValue: [JSONNode]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, in document order, when this is `.object`, nil otherwise.
    public var objectValue: [(key: String, value: JSONNode)]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
