import Yams

/// Reads typed values out of one file's YAML nodes, reporting every mismatch to the log with
/// the file, the node's line and column, and the field path; returns nil for a bad value so
/// callers carry on and find the next problem.
///
/// Typing is strict, as Kubernetes' is: a string field wants a string scalar (`name: no` is a
/// boolean in YAML and is reported, with a hint to quote it); integers are plain decimal
/// (YAML 1.1 octal, hex and sexagesimal forms are reported, since `port: 010` meaning 8 is
/// never what anyone meant). A `null` value counts as absent.
struct NodeReader {
    /// The file as shown in problems.
    let file: String
    let log: ProblemLog

    func report(_ node: Node?, _ path: FieldPath, _ message: String) {
        log.report(file: file, at: node?.mark, field: path.description, message)
    }

    func report(at mark: Mark?, _ path: FieldPath, _ message: String) {
        log.report(file: file, at: mark, field: path.description, message)
    }

    // MARK: Mappings

    /// Checks that `node` is a mapping whose keys are all in `allowed`, and that each name in
    /// `required` is present. Unknown keys are reported at the key's own position.
    func fields(
        _ node: Node, _ path: FieldPath, allowed: [String], required: [String] = [], ignored: Set<String> = []
    ) -> YAMLFields? {
        guard case .mapping(let mapping) = node else {
            report(node, path, "expected a mapping, got \(Self.describe(node))")
            return nil
        }
        var values: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, key.typeName == .str || key.typeName == .merge else {
                report(key, path, "mapping keys must be strings, got \(Self.describe(key))")
                continue
            }
            let name = scalar.string
            if ignored.contains(name) { continue }
            guard allowed.contains(name) else {
                report(key, path.key(name), Self.unknownFieldMessage(name, allowed: allowed))
                continue
            }
            values[name] = (key, value)
        }
        let fields = YAMLFields(path: path, mark: node.mark, values: values)
        for name in required where fields[name] == nil {
            if let present = values[name] {
                report(at: present.value.mark, path.key(name), "required field has no value")
            } else {
                report(at: node.mark, path.key(name), "required field is missing")
            }
        }
        return fields
    }

    static func unknownFieldMessage(_ name: String, allowed: [String]) -> String {
        if allowed.isEmpty { return "unknown field \"\(name)\"; this mapping takes no fields" }
        let close = allowed.filter { editDistance($0.lowercased(), name.lowercased()) <= 2 }
        if let suggestion = close.min(by: { editDistance($0, name) < editDistance($1, name) }) {
            return "unknown field \"\(name)\" (did you mean \"\(suggestion)\"?)"
        }
        return "unknown field \"\(name)\"; known fields: \(allowed.joined(separator: ", "))"
    }

    /// Levenshtein distance, for "did you mean" suggestions on short field names.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    // MARK: Scalars

    /// A string scalar. Empty strings are reported unless `allowEmpty`.
    func string(_ node: Node, _ path: FieldPath, allowEmpty: Bool = false) -> String? {
        guard case .scalar(let scalar) = node, node.typeName == .str else {
            report(node, path, "expected a string, got \(Self.describe(node))\(Self.quoteHint(node))")
            return nil
        }
        if !allowEmpty && scalar.string.isEmpty {
            report(node, path, "must not be empty")
            return nil
        }
        return scalar.string
    }

    /// `true`/`false` (and the YAML 1.1 spellings `yes`/`no`/`on`/`off`, as Kubernetes accepts).
    func bool(_ node: Node, _ path: FieldPath) -> Bool? {
        guard case .scalar(let scalar) = node, node.typeName == .bool, let value = Bool.construct(from: scalar) else {
            report(node, path, "expected true or false, got \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// A plain decimal integer within `range`.
    func integer(_ node: Node, _ path: FieldPath, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
              node.typeName == .int || node.typeName == .float
        else {
            report(node, path, "expected an integer, got \(Self.describe(node))")
            return nil
        }
        let text = scalar.string
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            report(node, path, "expected a decimal integer, got \(text)")
            return nil
        }
        if digits.count > 1, digits.first == "0" {
            report(node, path, "\(text) has a leading zero, which YAML may read as octal; write it without")
            return nil
        }
        guard let value = Int(text), range.contains(value) else {
            report(node, path, "\(text) is out of range: \(Self.describe(range))")
            return nil
        }
        return value
    }

    /// A duration such as `250ms`, `1s`, `2m`, `1h`, in milliseconds within `range`. With
    /// `zeroMeansNone`, any zero (`0s`, `0ms`) is accepted too, and read as 0.
    ///
    /// `grammar: .gateway` reads Gateway API durations (GEP-2257) instead, which may have up
    /// to four parts (`1m30s`); the traffic policy kinds use them.
    func durationMillis(
        _ node: Node, _ path: FieldPath, in range: ClosedRange<Int>, zeroMeansNone: Bool = false, grammar: DurationGrammar = .single
    ) -> Int? {
        let example = grammar == .single ? "a duration such as 250ms, 1s, 2m or 1h" : "a duration such as 10s, 500ms, 1h or 1m30s"
        guard case .scalar(let scalar) = node, node.typeName == .str else {
            report(node, path, "expected \(example), got \(Self.describe(node))")
            return nil
        }
        let parsed = grammar == .single ? DurationText.millis(scalar.string) : DurationText.gatewayMillis(scalar.string)
        guard let millis = parsed else {
            var hint = DurationText.hoursForDays(scalar.string).map { " (there is no unit for days: write \($0))" } ?? ""
            if grammar == .gateway, let whole = DurationText.wholeMillisForFraction(scalar.string) {
                hint = " (no fractions: write \(whole))"
            }
            report(node, path, "\"\(scalar.string)\" is not \(example)\(hint)")
            return nil
        }
        if zeroMeansNone, millis == 0 { return 0 }
        guard range.contains(millis) else {
            let none = zeroMeansNone ? "0s (none) or " : ""
            report(node, path, "\(scalar.string) is out of range: must be \(none)between "
                + "\(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))")
            return nil
        }
        return millis
    }

    /// `durationMillis` in nanoseconds, as the engine counts time.
    func durationNanos(
        _ node: Node, _ path: FieldPath, in range: ClosedRange<Int>, zeroMeansNone: Bool = false, grammar: DurationGrammar = .single
    ) -> UInt64? {
        durationMillis(node, path, in: range, zeroMeansNone: zeroMeansNone, grammar: grammar).map(DurationText.nanos(fromMillis:))
    }

    /// Which duration syntax a field takes.
    enum DurationGrammar {
        /// `250ms`, `1s`, `2m`, `1h`: the Proxy's and the Link's fields.
        case single
        /// Gateway API durations, `1m30s` too: HTTPRoute, DestinationRule.
        case gateway
    }

    /// A number of bytes: a plain decimal integer within `range`. Binary suffixes (`32Mi`) are
    /// not read, but are reported with the number to write instead.
    func byteCount(_ node: Node, _ path: FieldPath, in range: ClosedRange<Int>) -> Int? {
        if case .scalar(let scalar) = node, node.typeName == .str {
            let text = scalar.string
            for (suffix, shift) in [("Ki", 10), ("Mi", 20), ("Gi", 30)] where text.hasSuffix(suffix) {
                let digits = text.dropLast(suffix.count)
                if !digits.isEmpty, digits.count <= 9,
                   digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                   let value = Int(digits) {
                    report(node, path, "expected a number of bytes, got the string \"\(text)\"; "
                        + "suffixes are not read here: write \(value << shift)")
                    return nil
                }
            }
        }
        return integer(node, path, in: range)
    }

    // MARK: Collections

    /// The elements of a sequence.
    func list(_ node: Node, _ path: FieldPath) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(node, path, "expected a list, got \(Self.describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A mapping of strings to strings (labels, annotations), with each value's mark.
    func stringMap(_ node: Node, _ path: FieldPath) -> [String: (value: String, mark: Mark?)]? {
        guard case .mapping(let mapping) = node else {
            report(node, path, "expected a mapping of strings, got \(Self.describe(node))")
            return nil
        }
        var result: [String: (value: String, mark: Mark?)] = [:]
        for (key, value) in mapping {
            guard let name = string(key, path, allowEmpty: false) else { continue }
            if value.typeName == .null {
                result[name] = ("", value.mark)  // `key:` with no value is an empty string label
                continue
            }
            guard let text = string(value, path.key(name), allowEmpty: true) else { continue }
            result[name] = (text, value.mark)
        }
        return result
    }

    // MARK: Descriptions

    /// How a node looks, for "expected X, got Y".
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch node.typeName {
            case .str: return "the string \"\(scalar.string)\""
            case .int: return "the integer \(scalar.string)"
            case .float: return "the number \(scalar.string)"
            case .bool: return "the boolean \(scalar.string)"
            case .null: return "null"
            case .timestamp: return "the timestamp \(scalar.string)"
            default: return "\(scalar.string)"
            }
        }
    }

    private static func quoteHint(_ node: Node) -> String {
        guard case .scalar(let scalar) = node, node.typeName != .null else { return "" }
        return " (quote it to make it a string: \"\(scalar.string)\")"
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "must be at least \(range.lowerBound)" }
        return "must be between \(range.lowerBound) and \(range.upperBound)"
    }
}

/// The checked fields of one mapping. `null` values read as absent.
struct YAMLFields {
    let path: FieldPath
    /// Position of the mapping itself, for problems about a missing field.
    let mark: Mark?
    fileprivate let values: [String: (key: Node, value: Node)]

    subscript(name: String) -> Node? {
        guard let value = values[name]?.value else { return nil }
        if value.typeName == .null { return nil }
        return value
    }

    /// Position of a field's key, falling back to the mapping's.
    func keyMark(_ name: String) -> Mark? {
        values[name]?.key.mark ?? mark
    }

    /// The path of one of this mapping's fields.
    func field(_ name: String) -> FieldPath { path.key(name) }
}

extension Node {
    /// The resolved YAML type (`!!str`, `!!int`, ...): explicit tags win, plain scalars are
    /// typed by the YAML 1.1 rules, quoted scalars are strings.
    var typeName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
