import Testing
import CausewayMesh

/// Parses with the byte-buffer entry point, the one the proxy uses for wire input.
private func parse(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) -> Result<JSONNode, JSONParseError> {
    bytes.withUnsafeBytes { buffer in
        Result { () throws(JSONParseError) -> JSONNode in try JSONNode.parse(buffer, limits: limits) }
    }
}

private func parse(_ text: String, limits: JSONLimits = JSONLimits()) -> Result<JSONNode, JSONParseError> {
    parse(Array(text.utf8), limits: limits)
}

/// The error parsing `bytes` throws, or nil when it parses.
private func failure(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) -> JSONParseError? {
    if case .failure(let error) = parse(bytes, limits: limits) { return error }
    return nil
}

private func failure(_ text: String, limits: JSONLimits = JSONLimits()) -> JSONParseError? {
    failure(Array(text.utf8), limits: limits)
}

private func quote(_ bytes: [UInt8]) -> [UInt8] {
    [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
}

@Suite("JSONNode parsing")
struct JSONParseTests {
    @Test("scalars parse to their case", arguments: [
        ("null", JSONNode.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .integer(0)),
        ("-0", .integer(0)),
        ("42", .integer(42)),
        ("-42", .integer(-42)),
        ("9223372036854775807", .integer(.max)),
        ("-9223372036854775808", .integer(.min)),
        ("1.5", .double(1.5)),
        ("-0.25", .double(-0.25)),
        ("1e2", .double(100)),
        ("1E+2", .double(100)),
        ("25e-1", .double(2.5)),
        ("0.0", .double(0)),
        ("1e-400", .double(0)),  // underflow is finite: rounds to zero
        ("\"\"", .string("")),
        ("\"hello\"", .string("hello")),
        (" \t\r\n 7 \r\n", .integer(7)),
    ])
    func scalars(text: String, expected: JSONNode) throws {
        #expect(try parse(text).get() == expected)
    }

    @Test("integers beyond Int64 become doubles", arguments: [
        ("9223372036854775808", 9_223_372_036_854_775_808.0),
        ("-9223372036854775809", -9_223_372_036_854_775_809.0),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1" + String(repeating: "0", count: 300), 1e300),
    ])
    func hugeIntegers(text: String, expected: Double) throws {
        #expect(try parse(text).get() == .double(expected))
    }

    @Test("negative zero: -0 is the integer 0, -0.0 keeps its sign")
    func negativeZero() throws {
        #expect(try parse("-0").get().intValue == 0)
        guard case .double(let d) = try parse("-0.0").get() else {
            Issue.record("-0.0 is not a double")
            return
        }
        #expect(d == 0 && d.sign == .minus)
    }

    @Test("numbers that round to infinity are rejected", arguments: [
        "1e400", "-1e400", "1" + String(repeating: "0", count: 400), "1e99999999999999999999", "1.7976931348623159e308",
    ])
    func nonFinite(text: String) {
        #expect(failure(text) == JSONParseError(offset: 0, reason: "number out of range"))
        #expect(failure("[1, \(text)]")?.offset == 4)
    }

    @Test("escapes decode", arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD83D\uDE00""#, "😀"),
        (#""\udbff\udfff""#, "\u{10FFFF}"),
        (#""\u0000""#, "\u{0}"),
        (#""a\nb\u0020c""#, "a\nb c"),
        (#""é€😀 raw""#, "é€😀 raw"),
        (#""\\u0041""#, "\\u0041"),
    ])
    func escapes(text: String, expected: String) throws {
        #expect(try parse(text).get() == .string(expected))
    }

    @Test("well-formed UTF-8 at the edges of each range is accepted", arguments: [
        ([0xC2, 0x80], "\u{80}"),
        ([0xDF, 0xBF], "\u{7FF}"),
        ([0xE0, 0xA0, 0x80], "\u{800}"),
        ([0xED, 0x9F, 0xBF], "\u{D7FF}"),
        ([0xEE, 0x80, 0x80], "\u{E000}"),
        ([0xEF, 0xBF, 0xBF], "\u{FFFF}"),
        ([0xF0, 0x90, 0x80, 0x80], "\u{10000}"),
        ([0xF4, 0x8F, 0xBF, 0xBF], "\u{10FFFF}"),
    ] as [([UInt8], String)])
    func validUTF8(bytes: [UInt8], expected: String) throws {
        #expect(try parse(quote(bytes)).get() == .string(expected))
    }

    @Test("ill-formed UTF-8 is rejected at the start of the sequence", arguments: [
        [0xC0, 0x80],  // overlong NUL
        [0xC1, 0xBF],  // overlong
        [0xE0, 0x80, 0x80],  // overlong
        [0xED, 0xA0, 0x80],  // encoded surrogate U+D800
        [0xED, 0xBF, 0xBF],  // encoded surrogate U+DFFF
        [0xF0, 0x80, 0x80, 0x80],  // overlong
        [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xFF],
        [0xFE],
        [0x80],  // lone continuation
        [0xC3, 0x41],  // missing continuation
        [0xE2, 0x82],  // truncated by the closing quote
        [0xF0, 0x9F, 0x98],
    ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) {
        #expect(failure(quote(bytes)) == JSONParseError(offset: 1, reason: "invalid UTF-8"))
        #expect(failure(quote([0x61] + bytes))?.offset == 2)
    }

    @Test("a truncated sequence at the end of the input is invalid UTF-8")
    func truncatedUTF8AtEnd() {
        #expect(failure([0x22, 0xE2, 0x82]) == JSONParseError(offset: 1, reason: "invalid UTF-8"))
        #expect(failure([0xFF]) == JSONParseError(offset: 0, reason: "expected a value"))
    }

    @Test("malformed documents are rejected at the offending byte", arguments: [
        ("", 0, "expected a value"),
        ("   ", 3, "expected a value"),
        ("[1,]", 3, "expected a value"),
        ("[,1]", 1, "expected a value"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[1", 2, "expected ',' or ']'"),
        ("[", 1, "expected a value"),
        ("{", 1, "expected a member name"),
        ("{\"a\":1,}", 7, "expected a member name"),
        ("{1:2}", 1, "expected a member name"),
        ("{'a':1}", 1, "expected a member name"),
        ("{a:1}", 1, "expected a member name"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("{\"a\"", 4, "expected ':'"),
        ("{\"a\":}", 5, "expected a value"),
        ("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
        ("{\"a\":1", 6, "expected ',' or '}'"),
        ("[1]]", 3, "expected end of input"),
        ("1 2", 2, "expected end of input"),
        ("[1] // comment", 4, "expected end of input"),
        ("/* comment */ 1", 0, "expected a value"),
        ("NaN", 0, "expected a value"),
        ("nan", 0, "expected a value"),
        ("Infinity", 0, "expected a value"),
        ("-Infinity", 1, "expected a digit"),
        ("01", 1, "leading zeros are not allowed"),
        ("-01", 2, "leading zeros are not allowed"),
        ("00", 1, "leading zeros are not allowed"),
        ("+1", 0, "expected a value"),
        (".5", 0, "expected a value"),
        ("1.", 2, "expected a digit after '.'"),
        ("1.e5", 2, "expected a digit after '.'"),
        ("1e", 2, "expected a digit in the exponent"),
        ("1e+", 3, "expected a digit in the exponent"),
        ("-", 1, "expected a digit"),
        ("- 1", 1, "expected a digit"),
        ("0x10", 1, "expected end of input"),
        ("tru", 0, "expected a value"),
        ("True", 0, "expected a value"),
        ("nul", 0, "expected a value"),
        ("truex", 4, "expected end of input"),
        ("\"abc", 0, "unterminated string"),
        ("\"abc\\", 0, "unterminated string"),
        ("[\"a\tb\"]", 3, "control character in string"),
        ("\"a\nb\"", 2, "control character in string"),
        ("\"\u{0}\"", 1, "control character in string"),
        ("\"\u{1F}\"", 1, "control character in string"),
        ("\"\\x\"", 1, "invalid escape"),
        ("\"\\U0041\"", 1, "invalid escape"),
        ("\"\\'\"", 1, "invalid escape"),
        ("\"\\u12\"", 1, "invalid \\u escape"),
        ("\"\\u12G4\"", 1, "invalid \\u escape"),
        ("\"\\u\"", 1, "invalid \\u escape"),
        ("\"ab\\ud83d\"", 3, "unpaired surrogate"),
        ("\"\\ude00\"", 1, "unpaired surrogate"),
        ("\"\\ud83d\\u0041\"", 1, "unpaired surrogate"),
        ("\"\\ud83dx\"", 1, "unpaired surrogate"),
        ("\"\\ud83d\\ud83d\"", 1, "unpaired surrogate"),
        ("\"\\ud83d\\n\"", 1, "unpaired surrogate"),
        ("\u{0C}1", 0, "expected a value"),  // form feed is not JSON whitespace
        ("\u{0B}1", 0, "expected a value"),  // nor vertical tab
        ("\u{A0}1", 0, "expected a value"),  // nor NBSP
        ("\u{FEFF}1", 0, "expected a value"),  // nor a byte order mark
        ("{\"a\":1,\"a\":2}", 7, "duplicate member name"),
    ])
    func rejected(text: String, offset: Int, reason: String) {
        #expect(failure(text) == JSONParseError(offset: offset, reason: reason))
    }

    @Test("the String entry point agrees with the byte one")
    func stringEntryPoint() throws {
        #expect(try JSONNode.parse("{\"a\":[1,2.5,\"é\"]}") == parse("{\"a\":[1,2.5,\"é\"]}").get())
        #expect(throws: JSONParseError(offset: 3, reason: "expected a value")) {
            try JSONNode.parse("[1,]")
        }
        #expect(throws: JSONParseError(offset: 2, reason: "input longer than 2 bytes")) {
            try JSONNode.parse("123", limits: JSONLimits(maxBytes: 2))
        }
    }

    @Test("errors describe themselves with their offset")
    func errorDescription() {
        let error = failure("{\"name\":\"web\" \"port\":1}")
        #expect(error?.description == "byte 14: expected ',' or '}'")
        #expect(JSONParseError(offset: 17, reason: "expected ',' or '}'").description == "byte 17: expected ',' or '}'")
    }
}

@Suite("JSONNode objects")
struct JSONObjectTests {
    @Test("member order is kept")
    func order() throws {
        let node = try parse(#"{"z":1,"a":2,"m":{"y":true,"b":null}}"#).get()
        #expect(node.objectValue?.map(\.key) == ["z", "a", "m"])
        #expect(node["m"]?.objectValue?.map(\.key) == ["y", "b"])
        #expect(node.compact() == #"{"z":1,"a":2,"m":{"y":true,"b":null}}"#)
    }

    @Test("duplicate member names are rejected, at the second name", arguments: [
        (#"{"a":1,"a":2}"#, 7),
        (#"{"a":1,"b":2,"a":3}"#, 13),
        (#"{"a":1,"\u0061":2}"#, 7),  // the same name once escapes are decoded
        (#"[{"a":{"a":1,"a":2}}]"#, 13),
        (#"{"é":1,"e\u0301":2}"#, 8),  // canonically equivalent: Swift's String == treats them as one name
    ])
    func duplicates(text: String, offset: Int) {
        #expect(failure(text) == JSONParseError(offset: offset, reason: "duplicate member name"))
    }

    @Test("the same name in sibling or nested objects is not a duplicate")
    func sameNameElsewhere() throws {
        let node = try parse(#"[{"a":1},{"a":2,"b":{"a":3}}]"#).get()
        #expect(node.arrayValue?.count == 2)
        #expect(node.arrayValue?[1]["b"]?["a"] == .integer(3))
    }

    @Test("a duplicate is found in a large object too (past the linear-scan size)")
    func largeObjectDuplicates() throws {
        let members = (0..<5_000).map { "\"k\($0)\":\($0)" }
        let unique = "{" + members.joined(separator: ",") + "}"
        let node = try parse(unique).get()
        #expect(node.objectValue?.count == 5_000)
        #expect(node["k4999"] == .integer(4_999))
        let duplicated = "{" + members.joined(separator: ",") + ",\"k17\":0}"
        #expect(failure(duplicated)?.reason == "duplicate member name")
        #expect(failure(duplicated)?.offset == unique.utf8.count)
    }

    @Test("equality is structural and order-sensitive")
    func equality() throws {
        #expect(try parse(#"{"a":1,"b":[2]}"#).get() == parse(#" { "a" : 1 , "b" : [ 2 ] } "#).get())
        #expect(try parse(#"{"a":1,"b":2}"#).get() != parse(#"{"b":2,"a":1}"#).get())
        #expect(try parse(#"{"a":1}"#).get() != parse(#"{"a":1,"b":2}"#).get())
        #expect(try parse(#"{"a":1}"#).get() != parse(#"{"b":1}"#).get())
        #expect(JSONNode.integer(1) != .double(1))
        #expect(JSONNode.array([]) != .object([]))
        #expect(JSONNode.null != .bool(false))
    }

    @Test("accessors answer only for their own case")
    func accessors() throws {
        let node = try parse(#"{"s":"x","i":-3,"d":2.0,"b":false,"a":[null],"o":{}}"#).get()
        #expect(node["s"]?.stringValue == "x")
        #expect(node["i"]?.intValue == -3)
        #expect(node["d"]?.intValue == nil)
        #expect(node["b"]?.boolValue == false)
        #expect(node["a"]?.arrayValue == [.null])
        #expect(node["o"]?.objectValue?.isEmpty == true)
        #expect(node["missing"] == nil)
        #expect(node["s"]?["s"] == nil)
        #expect(node["s"]?.intValue == nil)
        #expect(node["i"]?.stringValue == nil)
        #expect(node["a"]?.boolValue == nil)
        #expect(node["b"]?.arrayValue == nil)
        #expect(node.arrayValue == nil)
        #expect(node["a"]?.objectValue == nil)
    }
}

@Suite("JSONNode limits")
struct JSONLimitTests {
    private func nested(_ depth: Int, open: String = "[", close: String = "]", inner: String = "1") -> String {
        String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
    }

    @Test("nesting up to maxDepth parses; one level more is rejected at the opening byte")
    func depth() throws {
        #expect(try parse(nested(32)).get() != .null)
        #expect(try parse(nested(31, inner: "[]")).get() != .null)
        #expect(failure(nested(33)) == JSONParseError(offset: 32, reason: "nesting deeper than 32 levels"))
        #expect(failure(nested(32, inner: "[]"))?.offset == 32)
        #expect(try parse(nested(32, open: "{\"a\":", close: "}")).get() != .null)
        #expect(failure(nested(33, open: "{\"a\":", close: "}"))?.offset == 32 * 5)
        // Alternating array and object: the 33rd container is the '[' of the 17th `[{"a":`.
        #expect(failure(nested(17, open: "[{\"a\":", close: "}]"))?.offset == 16 * 6)
    }

    @Test("a depth bomb of 100,000 levels is an error, not a stack overflow", arguments: ["[", "{\"a\":", "[{\"\":"])
    func depthBomb(open: String) {
        let bomb = Array(String(repeating: open, count: 100_000).utf8)
        #expect(failure(bomb)?.reason == "nesting deeper than 32 levels")
        let closed = Array(nested(100_000, open: open, close: "}").utf8)
        #expect(failure(closed)?.reason == "nesting deeper than 32 levels")
    }

    @Test("maxDepth 0 allows scalars only")
    func scalarsOnly() throws {
        let limits = JSONLimits(maxDepth: 0)
        #expect(try parse("\"x\"", limits: limits).get() == .string("x"))
        #expect(failure("[]", limits: limits) == JSONParseError(offset: 0, reason: "nesting deeper than 0 levels"))
        #expect(failure(" {}", limits: limits)?.offset == 1)
    }

    @Test("a 5 MiB input is rejected before any parsing")
    func oversizedInput() throws {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(5 * 1024 * 1024 + 2)
        while bytes.count < 5 * 1024 * 1024 {
            bytes.append(contentsOf: [UInt8(ascii: "0"), UInt8(ascii: ",")])
        }
        bytes.append(contentsOf: [UInt8(ascii: "0"), UInt8(ascii: "]")])
        #expect(failure(bytes) == JSONParseError(offset: 4 * 1024 * 1024, reason: "input longer than 4194304 bytes"))
        // The limit counts whitespace, and a document of exactly maxBytes is fine.
        let limits = JSONLimits(maxBytes: 9)
        #expect(try parse("[1,2,3,4]", limits: limits).get().arrayValue?.count == 4)
        #expect(failure("[1,2,3,4] ", limits: limits)?.offset == 9)
    }

    @Test("strings are bounded in decoded bytes, member names included")
    func stringLength() throws {
        let max = String(repeating: "a", count: 64 * 1024)
        #expect(try parse("\"\(max)\"").get().stringValue?.utf8.count == 64 * 1024)
        #expect(failure("\"\(max)a\"") == JSONParseError(offset: 0, reason: "string longer than 65536 bytes"))
        #expect(failure("{\"\(max)a\":1}")?.offset == 1)

        let limits = JSONLimits(maxStringBytes: 3)
        #expect(try parse("\"\\u00e9a\"", limits: limits).get() == .string("éa"))  // 3 bytes from 7
        #expect(failure("\"\\u00e9\\u00e9\"", limits: limits)?.reason == "string longer than 3 bytes")
        #expect(failure("[\"é\", \"😀\"]", limits: limits)?.offset == 7)
    }

    @Test("arrays and objects are bounded in members, at the first one too many")
    func memberCount() throws {
        let full = "[" + String(repeating: "0,", count: 99_999) + "0]"
        #expect(try parse(full).get().arrayValue?.count == 100_000)
        let over = "[" + String(repeating: "0,", count: 100_000) + "0]"
        #expect(failure(over) == JSONParseError(offset: 200_001, reason: "more than 100000 elements in one array"))

        let limits = JSONLimits(maxMembers: 2)
        #expect(try parse(#"{"a":1,"b":2}"#, limits: limits).get().objectValue?.count == 2)
        #expect(failure(#"{"a":1,"b":2,"c":3}"#, limits: limits)
            == JSONParseError(offset: 13, reason: "more than 2 members in one object"))
        #expect(failure("[[1,2],[3,4],[5]]", limits: limits)?.offset == 13)
        #expect(failure("[[1,2,3]]", limits: limits)?.offset == 6)

        let none = JSONLimits(maxMembers: 0)
        #expect(try parse("[[],{}]", limits: JSONLimits(maxMembers: 2)).get() == .array([.array([]), .object([])]))
        #expect(try parse("[]", limits: none).get() == .array([]))
        #expect(failure("[ 1]", limits: none)?.offset == 2)
        #expect(failure("{ \"a\":1}", limits: none)?.offset == 2)
    }
}

@Suite("JSONNode writing")
struct JSONWriteTests {
    @Test("documents survive a round trip and print compactly", arguments: [
        ("null", "null"),
        ("[]", "[]"),
        ("{}", "{}"),
        (" [ 1 , -2 , 3.5 , true , false , null ] ", "[1,-2,3.5,true,false,null]"),
        ("{ \"a\" : { \"b\" : [ { } , [ ] ] } }", #"{"a":{"b":[{},[]]}}"#),
        ("-9223372036854775808", "-9223372036854775808"),
        ("1E2", "100.0"),
        ("-0.0", "-0.0"),
        ("1e300", "1e+300"),
        ("0.1", "0.1"),
        ("1e-7", "1e-07"),
        ("18446744073709551616", "1.8446744073709552e+19"),
        (#""\u00e9\ud83d\ude00\/""#, "\"é😀/\""),
        (#""\u0001\u001f\u007f""#, "\"\\u0001\\u001f\u{7f}\""),
        (#"{"k\"ey":"v\\al\n"}"#, #"{"k\"ey":"v\\al\n"}"#),
    ])
    func roundTrip(text: String, compact: String) throws {
        let node = try parse(text).get()
        #expect(node.compact() == compact)
        #expect(try parse(compact).get() == node)
    }

    @Test("strings are escaped as the contract says")
    func quoted() throws {
        #expect(JSONNode.quoted("") == "\"\"")
        #expect(JSONNode.quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONNode.quoted("\n\r\t\u{8}\u{c}") == #""\n\r\t\b\f""#)
        #expect(JSONNode.quoted("\u{0}\u{1}\u{1b}\u{1f} ") == #""\u0000\u0001\u001b\u001f ""#)
        #expect(JSONNode.quoted("/é😀\u{7f}") == "\"/é😀\u{7f}\"")
        // Every control character comes back unchanged.
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        #expect(try parse(JSONNode.quoted(controls)).get() == .string(controls))
    }

    @Test("non-finite doubles print as null", arguments: [Double.nan, .infinity, -.infinity, .signalingNaN])
    func nonFinite(value: Double) {
        #expect(JSONNode.double(value).compact() == "null")
        #expect(JSONNode.array([.double(value), .integer(1)]).compact() == "[null,1]")
    }

    @Test("built values print compactly")
    func built() {
        let node = JSONNode.object([
            (key: "name", value: .string("web")),
            (key: "ports", value: .array([.integer(80), .integer(443)])),
            (key: "weight", value: .double(0.5)),
            (key: "tls", value: .bool(true)),
            (key: "zone", value: .null),
        ])
        #expect(node.compact() == #"{"name":"web","ports":[80,443],"weight":0.5,"tls":true,"zone":null}"#)
    }
}

@Suite("JSONNode fuzzing")
struct JSONFuzzTests {
    /// A document touching every construct: nesting, escapes, surrogate pairs, raw UTF-8,
    /// every number form, empty containers.
    static let seed = Array(#"""
    {"id":"svc-1","ports":[80,443,-1,0],"weight":0.25,"big":1.5e300,"tiny":-2E-5,"huge":123456789012345678901,
     "tls":true,"zone":null,"tags":["a\"b","c\\d","\/e","\b\f\n\r\t","\u00e9\ud83d\ude00","é€😀"],
     "nested":{"x":[[],{},[{"y":[false]}]],"z":{}}}
    """#.utf8)

    /// Bytes that steer mutations into the parser's decision points.
    static let interesting: [UInt8] = Array(#"{}[]",:\u0123456789-+.eE tfn"#.utf8)
        + [0x00, 0x09, 0x0A, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]

    @Test("2,000 random mutations of a valid document each parse or throw")
    func mutations() throws {
        #expect(try parse(Self.seed).get()["nested"]?["x"]?.arrayValue?.count == 3)
        var rng = SplitMix64(seed: 0x00C0_FFEE)
        var parsed = 0, rejected = 0
        for iteration in 0..<2_000 {
            var bytes = Self.seed
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                mutate(&bytes, using: &rng)
            }
            switch parse(bytes) {
            case .success(let node):
                parsed += 1
                // Whatever parses must print to text that parses back to the same value.
                let again = parse(node.compact())
                #expect(again == .success(node), "iteration \(iteration)")
            case .failure(let error):
                rejected += 1
                #expect((0...bytes.count).contains(error.offset), "iteration \(iteration): \(error)")
            }
        }
        // Both outcomes occur, or the mutations are not exercising the parser.
        #expect(parsed > 20)
        #expect(rejected > 1_000)
    }

    private func mutate(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes.append(Self.interesting.randomElement(using: &rng) ?? 0)
            return
        }
        let at = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            bytes[at] = UInt8.random(in: 0...255, using: &rng)
        case 1:
            bytes[at] = Self.interesting.randomElement(using: &rng) ?? 0
        case 2:
            bytes.insert(Self.interesting.randomElement(using: &rng) ?? 0, at: at)
        case 3:
            bytes.remove(at: at)
        case 4:
            // Duplicate a short run: repeats keys, commas, brackets and escapes.
            let end = min(bytes.count, at + Int.random(in: 1...12, using: &rng))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        default:
            // Cut the document short: exercises every "unexpected end" path.
            bytes.removeSubrange(at...)
        }
    }
}
