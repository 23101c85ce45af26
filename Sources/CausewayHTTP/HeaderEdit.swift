/// Changes applied to a header block while it is handed to nghttp2, so that forwarding a
/// request with a new `:authority` or an added header copies no block.
public struct HeaderEdit: Sendable {
    /// A new `:authority` value, replacing the original in place (and dropping `host`); nil
    /// keeps both.
    public var authority: [UInt8]?
    /// A field that replaces every field of the same name; it is sent after the block.
    public var replacing: (name: StaticString, value: [UInt8])?
    /// A name whose every field is left out (with no replacement).
    public var dropping: StaticString?

    public init(authority: [UInt8]? = nil, replacing: (name: StaticString, value: [UInt8])? = nil,
                dropping: StaticString? = nil) {
        self.authority = authority
        self.replacing = replacing
        self.dropping = dropping
    }

    /// No change.
    public static let none = HeaderEdit()

    /// True when this edit changes nothing.
    public var isEmpty: Bool { authority == nil && replacing == nil && dropping == nil }

    /// Calls `emit` with each (name, value) of `headers` after the edit, in the order they
    /// go on the wire: pseudo-headers first, `:authority` where it was (or after the other
    /// pseudo-headers when the request had only `host`), the replacing field last. Then
    /// calls `finish`, while every pointer handed to `emit` is still valid.
    public func forEachField<R>(of headers: HeaderBlock, _ emit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void,
                                then finish: () -> R) -> R {
        let authorityName = UnsafeRawBufferPointer(start: StaticString(":authority").utf8Start, count: 10)
        return headers.bytes.withUnsafeBytes { raw in
            func field(_ i: Int) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
                let f = headers.fields[i]
                return (UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameStart + f.nameCount)]),
                        UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)]))
            }
            func body(_ authorityValue: UnsafeRawBufferPointer?) -> R {
                var authorityDone = authorityValue == nil
                for i in 0..<headers.count {
                    if let authorityValue {
                        if headers.name(at: i, equals: ":authority") {
                            if !authorityDone { emit(authorityName, authorityValue) }
                            authorityDone = true
                            continue
                        }
                        if headers.name(at: i, equals: "host") { continue }
                        if !authorityDone && !headers.isPseudoHeader(at: i) {
                            emit(authorityName, authorityValue)
                            authorityDone = true
                        }
                    }
                    if let r = replacing, headers.name(at: i, equals: r.name) { continue }
                    if let d = dropping, headers.name(at: i, equals: d) { continue }
                    let (n, v) = field(i)
                    emit(n, v)
                }
                if let authorityValue, !authorityDone { emit(authorityName, authorityValue) }
                if let r = replacing {
                    return r.value.withUnsafeBytes {
                        emit(UnsafeRawBufferPointer(start: r.name.utf8Start, count: r.name.utf8CodeUnitCount), $0)
                        return finish()
                    }
                }
                return finish()
            }
            if let a = authority {
                return a.withUnsafeBytes { body($0) }
            }
            return body(nil)
        }
    }

    /// The edited block as a new `HeaderBlock` (tests, diagnostics).
    public func applied(to headers: HeaderBlock) -> HeaderBlock {
        var out = HeaderBlock()
        forEachField(of: headers, { out.append(name: $0, value: $1) }, then: {})
        return out
    }
}
