/// Incremental, strict request parser (RFC 9112). One request at a time: `parse` stops right
/// after a message's `.end` (it returns how many bytes it consumed), so pipelined requests
/// stay in the caller's buffer until it asks for the next one.
///
/// A head that arrives whole is parsed where it lies; one split across reads is gathered in
/// a buffer first (within `limits`). Body bytes are reported as slices of the caller's
/// input. After a protocol violation the parser refuses everything ("one request never
/// becomes two").
public struct HTTP1RequestParser {
    private let limits: HTTP1Limits
    private var headBuffer = HTTP1HeadBuffer()
    private var body = HTTP1BodyDecoder()
    /// Field offsets of the head being parsed, reused from request to request.
    private var fields: [HTTP1RawField] = []
    private var failure: HTTP1ParseError? = nil

    public init(limits: HTTP1Limits = .init()) {
        self.limits = limits
    }

    /// True between a head and its end.
    public var inMessage: Bool { body.active }

    /// True while part of a head (or trailers) is buffered and unfinished (for the header timeout).
    public var headPending: Bool { headBuffer.pending || body.inTrailers }

    /// Consumes bytes from `input`, calling `sink` for each event in order. Returns the bytes
    /// consumed (head bytes are buffered inside the parser across calls, within limits).
    /// Throws on a protocol violation: the connection must answer `error.status` and close;
    /// the parser is unusable afterwards (every later call throws the same error).
    public mutating func parse(_ input: UnsafeRawBufferPointer,
                               _ sink: (HTTP1Event<HTTP1RequestHead>) -> Void) throws(HTTP1ParseError) -> Int {
        if let failure { throw failure }
        do {
            return try parseMessage(input, sink)
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func parseMessage(_ input: UnsafeRawBufferPointer,
                                       _ sink: (HTTP1Event<HTTP1RequestHead>) -> Void) throws(HTTP1ParseError) -> Int {
        guard let p = input.baseAddress, !input.isEmpty else { return 0 }
        var consumed = 0
        if !body.active {
            let limit = limits.maxHeaderBytes
            let tooLarge = { (lineEnded: Bool) in
                lineEnded ? HTTP1ParseError(status: 431, reason: "header-too-large")
                          : HTTP1ParseError(status: 414, reason: "request-line-too-long")
            }
            guard let found = try headBuffer.scan(input, side: .request, skipLeadingEmptyLines: true,
                                                  limit: limit, tooLarge: tooLarge) else {
                return input.count
            }
            let head: HTTP1RequestHead
            switch found {
            case .inInput(let start, let end):
                head = try HTTP1RequestHead.parse(rawSlice(p, start, end), limits: limits, fields: &fields)
                consumed = end
            case .inBuffer(let start, let used):
                head = try headBuffer.withBufferedSection(from: start) { (section) throws(HTTP1ParseError) in
                    try HTTP1RequestHead.parse(section, limits: limits, fields: &fields)
                }
                consumed = used
            }
            let hasBody = body.start(head.framing)
            sink(.head(head))
            if !hasBody {
                sink(.end(trailers: nil))
                return consumed
            }
        }
        let rest = UnsafeRawBufferPointer(start: p + consumed, count: input.count - consumed)
        switch try body.decode(rest, side: .request, limits: limits, headBuffer: &headBuffer, fields: &fields, sink) {
        case .needMore:
            return input.count
        case .ended(let used, let trailers):
            sink(.end(trailers: trailers))
            return consumed + used
        }
    }
}
