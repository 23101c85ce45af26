/// The fields of one HEADERS block (request, response or trailers), kept as bytes.
///
/// Names and values are stored back to back in one buffer so that a block costs two
/// allocations however many fields it has, and nothing is converted to `String` on the hot
/// path (see PERFORMANCE.md: header strings were the main cost of early HTTP/2 proxies).
public struct HeaderBlock: Sendable {
    /// One field: ranges into `bytes`.
    public struct Field: Sendable {
        public var nameStart: Int32
        public var nameCount: Int32
        public var valueStart: Int32
        public var valueCount: Int32
    }

    /// Names and values, back to back.
    public private(set) var bytes: [UInt8] = []
    /// Fields in the order they were received or added.
    public private(set) var fields: [Field] = []

    public init() {}

    /// Creates a block from name/value string pairs (tests, proxy-generated responses).
    public init(_ pairs: [(String, String)]) {
        for (n, v) in pairs { append(name: n, value: v) }
    }

    /// Number of fields.
    public var count: Int { fields.count }

    /// Appends a field from raw bytes.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if fields.capacity == 0 {
            // One allocation each for a typical block instead of repeated growth.
            bytes.reserveCapacity(512)
            fields.reserveCapacity(24)
        }
        let ns = Int32(bytes.count)
        bytes.append(contentsOf: name)
        let vs = Int32(bytes.count)
        bytes.append(contentsOf: value)
        fields.append(Field(nameStart: ns, nameCount: Int32(name.count), valueStart: vs, valueCount: Int32(value.count)))
    }

    /// Reserves room for `bytes` bytes of names and values and `fields` fields, so that a
    /// parser that knows a head's size builds its block with one allocation of each.
    public mutating func reserveCapacity(bytes: Int, fields: Int) {
        self.bytes.reserveCapacity(bytes)
        self.fields.reserveCapacity(fields)
    }

    /// Appends a field whose name is lower-cased on the way in (HTTP/1.1 names are
    /// case-insensitive, HTTP/2 ones lower case).
    public mutating func append(lowercasingName name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let ns = bytes.count
        append(name: name, value: value)
        bytes.withUnsafeMutableBufferPointer { b in
            for i in ns..<(ns + name.count) where b[i] &- 0x41 < 26 { b[i] |= 0x20 }
        }
    }

    /// Appends a field from strings.
    public mutating func append(name: String, value: String) {
        var n = name, v = value
        n.withUTF8 { nb in v.withUTF8 { vb in append(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }

    /// Appends field `index` of `other`.
    public mutating func append(fieldAt index: Int, of other: HeaderBlock) {
        let f = other.fields[index]
        other.bytes.withUnsafeBytes { raw in
            append(
                name: UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameStart + f.nameCount)]),
                value: UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)])
            )
        }
    }

    /// True when field `index`'s name equals `name` (names are lowercase in HTTP/2).
    public func name(at index: Int, equals name: StaticString) -> Bool {
        let f = fields[index]
        guard Int(f.nameCount) == name.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeBytes { raw in
            memEqual(raw.baseAddress! + Int(f.nameStart), UnsafeRawPointer(name.utf8Start), Int(f.nameCount))
        }
    }

    /// True when field `index` is a pseudo-header (its name starts with `:`).
    public func isPseudoHeader(at index: Int) -> Bool {
        let f = fields[index]
        return f.nameCount > 0 && bytes[Int(f.nameStart)] == 0x3A
    }

    /// Index of the first field named `name`.
    public func firstIndex(of name: StaticString) -> Int? {
        for i in fields.indices where self.name(at: i, equals: name) { return i }
        return nil
    }

    /// Indices of the first fields named `a`, `b` and `c`, found in one pass (routing reads
    /// three headers of every request).
    public func firstIndices(of a: StaticString, _ b: StaticString, _ c: StaticString) -> (Int?, Int?, Int?) {
        var found: (Int?, Int?, Int?) = (nil, nil, nil)
        let (la, lb, lc) = (Int32(a.utf8CodeUnitCount), Int32(b.utf8CodeUnitCount), Int32(c.utf8CodeUnitCount))
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            for (i, f) in fields.enumerated() {
                // Lengths first: most fields match none of the three.
                let n = f.nameCount
                guard n == la || n == lb || n == lc else { continue }
                let p = base + Int(f.nameStart)
                if found.0 == nil && n == la && memEqual(p, UnsafeRawPointer(a.utf8Start), Int(n)) { found.0 = i }
                else if found.1 == nil && n == lb && memEqual(p, UnsafeRawPointer(b.utf8Start), Int(n)) { found.1 = i }
                else if found.2 == nil && n == lc && memEqual(p, UnsafeRawPointer(c.utf8Start), Int(n)) { found.2 = i }
            }
        }
        return found
    }

    /// Calls `body` with the value bytes of the first field named `name`; nil if absent.
    public func withValue<R>(of name: StaticString, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let i = firstIndex(of: name) else { return nil }
        return try withValue(at: i, body)
    }

    /// Calls `body` with the value bytes of field `index`.
    public func withValue<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let f = fields[index]
        return try bytes.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)]))
        }
    }

    /// The value of the first field named `name` as a string (diagnostics and tests, not the hot path).
    public func value(of name: StaticString) -> String? {
        withValue(of: name) { String(decoding: $0, as: UTF8.self) }
    }

    /// The value of the first field whose name equals `name` (lowercase), as a string; for
    /// route rules that match configured header names (allocates only when found).
    public func value(named name: String) -> String? {
        var wanted = name
        return wanted.withUTF8 { target -> String? in
            bytes.withUnsafeBytes { raw -> String? in
                guard let base = raw.baseAddress else { return nil }
                for f in fields where Int(f.nameCount) == target.count
                    && memEqual(base + Int(f.nameStart), UnsafeRawPointer(target.baseAddress!), target.count) {
                    return String(decoding: UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)]),
                                  as: UTF8.self)
                }
                return nil
            }
        }
    }

    /// The name of field `index` as a string (diagnostics and tests).
    public func name(at index: Int) -> String {
        let f = fields[index]
        return String(decoding: bytes[Int(f.nameStart)..<Int(f.nameStart + f.nameCount)], as: UTF8.self)
    }

    /// The value of field `index` as a string (diagnostics and tests).
    public func value(at index: Int) -> String {
        let f = fields[index]
        return String(decoding: bytes[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)], as: UTF8.self)
    }

    /// `grpc-status` as a number; nil when absent or malformed.
    public var grpcStatus: Int? {
        withValue(of: "grpc-status") { v -> Int? in
            guard !v.isEmpty, v.count <= 3 else { return nil }
            var n = 0
            for b in v {
                guard b >= 0x30 && b <= 0x39 else { return nil }
                n = n * 10 + Int(b - 0x30)
            }
            return n
        } ?? nil
    }

    /// True when `content-type` is gRPC (`application/grpc`, with or without a subtype).
    public var isGRPC: Bool {
        withValue(of: "content-type") { v -> Bool in
            let prefix = "application/grpc".utf8
            guard v.count >= prefix.count, v.prefix(prefix.count).elementsEqual(prefix) else { return false }
            return v.count == prefix.count || v[prefix.count] == UInt8(ascii: "+") || v[prefix.count] == UInt8(ascii: ";")
        } ?? false
    }

    /// The `:status` pseudo-header as a number; nil when absent or malformed.
    public var status: Int? {
        withValue(of: ":status") { v -> Int? in
            guard v.count == 3 else { return nil }
            var n = 0
            for b in v {
                guard b >= 0x30 && b <= 0x39 else { return nil }
                n = n * 10 + Int(b - 0x30)
            }
            return n
        } ?? nil
    }

    /// This block without any field named `name`: itself when there is none (no copy),
    /// else a filtered copy (trailers, a rare path).
    public func removingAll(named name: StaticString) -> HeaderBlock {
        guard firstIndex(of: name) != nil else { return self }
        var out = HeaderBlock()
        for i in fields.indices where !self.name(at: i, equals: name) { out.append(fieldAt: i, of: self) }
        return out
    }

    /// Removes every field and releases the storage.
    public mutating func removeAllDroppingStorage() {
        if !fields.isEmpty || fields.capacity > 0 {
            bytes = []
            fields = []
        }
    }

    /// Removes every field.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
    }
}

@inline(__always)
func memEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    for i in 0..<count where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
        return false
    }
    return true
}
