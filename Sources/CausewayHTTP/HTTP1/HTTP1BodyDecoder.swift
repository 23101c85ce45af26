/// The body of one message after its head: counts content-length bytes, decodes chunked
/// framing (RFC 9112 §7.1) and its trailer section, or passes everything on until the
/// connection closes. Body bytes are reported as slices of the input, never copied.
struct HTTP1BodyDecoder {
    /// Where in a chunk-extension the decoder is (RFC 9112 §7.1.1:
    /// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`).
    enum ExtensionState: UInt8 {
        /// Whitespace after the size or a value: only ";" may follow.
        case bws
        /// After ";": whitespace, then a name.
        case beforeName
        case name
        /// Whitespace after a name: "=" or ";" follows.
        case afterName
        /// After "=": whitespace, then a token or a quoted string.
        case beforeValue
        case token
        case quoted
        case quotedEscape
        /// Right after a closing quote.
        case afterQuoted
    }

    enum State {
        /// No message body in progress.
        case idle
        case fixed(remaining: UInt64)
        case chunkSize(size: UInt64, digits: Int)
        case chunkExtension(size: UInt64, state: ExtensionState, length: Int)
        /// The CR of the chunk-size line was seen.
        case chunkLineLF(size: UInt64)
        case chunkData(remaining: UInt64)
        case chunkDataCR
        case chunkDataLF
        case trailers
        case untilClose
    }

    /// What one call did.
    enum Outcome {
        /// Everything given was used; the body goes on.
        case needMore
        /// The body ended after `consumed` bytes, with these trailers.
        case ended(consumed: Int, trailers: HeaderBlock?)
    }

    var state: State = .idle

    /// True while a message body is being read.
    var active: Bool {
        if case .idle = state { return false }
        return true
    }

    /// True while a trailer section is being read.
    var inTrailers: Bool {
        if case .trailers = state { return true }
        return false
    }

    /// Starts the body of a message framed as `framing`; false when it has none.
    mutating func start(_ framing: HTTP1Framing) -> Bool {
        switch framing {
        case .none, .contentLength(0): state = .idle; return false
        case .contentLength(let n): state = .fixed(remaining: n)
        case .chunked: state = .chunkSize(size: 0, digits: 0)
        case .untilClose: state = .untilClose
        }
        return true
    }

    /// Decodes body bytes from `input`, reporting data through `sink`.
    mutating func decode<Head>(_ input: UnsafeRawBufferPointer, side: HTTP1Side, limits: HTTP1Limits,
                               headBuffer: inout HTTP1HeadBuffer, fields: inout [HTTP1RawField],
                               _ sink: (HTTP1Event<Head>) -> Void) throws(HTTP1ParseError) -> Outcome {
        guard let p = input.baseAddress else { return .needMore }
        let n = input.count
        var i = 0
        while i < n {
            switch state {
            case .idle:
                return .ended(consumed: i, trailers: nil)

            case .untilClose:
                sink(.body(UnsafeRawBufferPointer(start: p + i, count: n - i)))
                return .needMore

            case .fixed(let remaining):
                let take = Int(min(remaining, UInt64(n - i)))
                sink(.body(UnsafeRawBufferPointer(start: p + i, count: take)))
                i += take
                if remaining == UInt64(take) {
                    state = .idle
                    return .ended(consumed: i, trailers: nil)
                }
                state = .fixed(remaining: remaining - UInt64(take))

            case .chunkData(let remaining):
                let take = Int(min(remaining, UInt64(n - i)))
                sink(.body(UnsafeRawBufferPointer(start: p + i, count: take)))
                i += take
                state = remaining == UInt64(take) ? .chunkDataCR : .chunkData(remaining: remaining - UInt64(take))

            case .chunkDataCR:
                guard p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.cr else {
                    throw side.error(400, "missing-chunk-crlf")
                }
                i += 1
                state = .chunkDataLF

            case .chunkDataLF:
                guard p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.lf else {
                    throw side.error(400, "missing-chunk-crlf")
                }
                i += 1
                state = .chunkSize(size: 0, digits: 0)

            case .chunkSize(var size, var digits):
                // The size line is short: a byte loop over it costs nothing next to the data.
                while i < n {
                    let b = p.load(fromByteOffset: i, as: UInt8.self)
                    if let v = HTTP1Chars.hexValue(b) {
                        digits += 1
                        // 16 hex digits fill a UInt64: one more could overflow.
                        guard digits <= 16 else { throw side.error(400, "chunk-size-too-long") }
                        size = size << 4 | v
                        i += 1
                        continue
                    }
                    guard digits > 0 else { throw side.error(400, "invalid-chunk-size") }
                    i += 1
                    if b == HTTP1Chars.cr { state = .chunkLineLF(size: size) }
                    else if b == 0x3B { state = .chunkExtension(size: size, state: .beforeName, length: 1) }
                    else if HTTP1Chars.isWhitespace(b) { state = .chunkExtension(size: size, state: .bws, length: 1) }
                    else if b == HTTP1Chars.lf { throw side.error(400, "bare-lf") }
                    else { throw side.error(400, "invalid-chunk-size") }
                    break
                }
                if i == n, case .chunkSize = state { state = .chunkSize(size: size, digits: digits) }

            case .chunkExtension(let size, var ext, var length):
                while i < n {
                    let b = p.load(fromByteOffset: i, as: UInt8.self)
                    i += 1
                    if b == HTTP1Chars.cr && ext != .quoted && ext != .quotedEscape {
                        guard ext == .name || ext == .token || ext == .afterQuoted else {
                            throw side.error(400, "invalid-chunk-extension")
                        }
                        state = .chunkLineLF(size: size)
                        break
                    }
                    if b == HTTP1Chars.lf { throw side.error(400, "bare-lf") }
                    length += 1
                    guard length <= limits.maxChunkExtensionBytes else { throw side.error(400, "chunk-extension-too-long") }
                    guard let next = Self.step(ext, b) else { throw side.error(400, "invalid-chunk-extension") }
                    ext = next
                }
                if case .chunkExtension = state { state = .chunkExtension(size: size, state: ext, length: length) }

            case .chunkLineLF(let size):
                guard p.load(fromByteOffset: i, as: UInt8.self) == HTTP1Chars.lf else { throw side.error(400, "bare-cr") }
                i += 1
                state = size == 0 ? .trailers : .chunkData(remaining: size)

            case .trailers:
                let rest = UnsafeRawBufferPointer(start: p + i, count: n - i)
                let tooLarge = side.error(431, "trailers-too-large")
                guard let found = try headBuffer.scan(rest, side: side, skipLeadingEmptyLines: false,
                                                      limit: limits.maxTrailerBytes, tooLarge: { _ in tooLarge }) else {
                    return .needMore
                }
                let trailers: HeaderBlock?
                switch found {
                case .inInput(let start, let end):
                    trailers = try Self.trailerBlock(rawSlice(p + i, start, end), side: side, limits: limits, fields: &fields)
                    i += end
                case .inBuffer(let start, let consumed):
                    trailers = try headBuffer.withBufferedSection(from: start) { (section) throws(HTTP1ParseError) in
                        try Self.trailerBlock(section, side: side, limits: limits, fields: &fields)
                    }
                    i += consumed
                }
                state = .idle
                return .ended(consumed: i, trailers: trailers)
            }
        }
        if case .idle = state { return .ended(consumed: i, trailers: nil) }
        return .needMore
    }

    /// The next extension state after byte `b` (not CR or LF), or nil when `b` is not allowed.
    private static func step(_ s: ExtensionState, _ b: UInt8) -> ExtensionState? {
        let ws = HTTP1Chars.isWhitespace(b)
        switch s {
        case .bws:
            return ws ? .bws : b == 0x3B ? .beforeName : nil
        case .beforeName:
            return ws ? .beforeName : HTTP1Chars.isTchar(b) ? .name : nil
        case .name:
            if HTTP1Chars.isTchar(b) { return .name }
            return ws ? .afterName : b == 0x3D ? .beforeValue : b == 0x3B ? .beforeName : nil
        case .afterName:
            return ws ? .afterName : b == 0x3D ? .beforeValue : b == 0x3B ? .beforeName : nil
        case .beforeValue:
            return ws ? .beforeValue : HTTP1Chars.isTchar(b) ? .token : b == 0x22 ? .quoted : nil
        case .token:
            if HTTP1Chars.isTchar(b) { return .token }
            return ws ? .bws : b == 0x3B ? .beforeName : nil
        case .quoted:
            // qdtext: HTAB, SP, VCHAR but '"' and '\', obs-text.
            if b == 0x22 { return .afterQuoted }
            if b == 0x5C { return .quotedEscape }
            return (ws || (b > 0x20 && b != 0x7F)) ? .quoted : nil
        case .quotedEscape:
            return (ws || (b > 0x20 && b != 0x7F)) ? .quoted : nil
        case .afterQuoted:
            return ws ? .bws : b == 0x3B ? .beforeName : nil
        }
    }

    /// The trailer fields of a complete trailer section, or nil when it has none. Fields that
    /// frame or route a message, or describe the connection, have no meaning as trailers and
    /// are dropped (RFC 9110 §6.5.1), as are those HTTP/2 forbids.
    private static func trailerBlock(_ section: UnsafeRawBufferPointer, side: HTTP1Side, limits: HTTP1Limits,
                                     fields: inout [HTTP1RawField]) throws(HTTP1ParseError) -> HeaderBlock? {
        let p = section.baseAddress!
        try HTTP1FieldLines.parse(p, from: 0, to: section.count, maxCount: limits.maxHeaderCount, side: side,
                                  tooMany: side.error(431, "too-many-trailers"), into: &fields)
        var block: HeaderBlock? = nil
        for f in fields where f.kind == .other {
            if block == nil {
                block = HeaderBlock()
                block!.reserveCapacity(bytes: section.count, fields: fields.count)
            }
            block!.append(lowercasingName: f.name(in: p), value: f.value(in: p))
        }
        return block
    }
}
