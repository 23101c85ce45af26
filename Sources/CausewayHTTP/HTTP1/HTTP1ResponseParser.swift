/// Response parser for HTTP/1.1 upstream connections.
///
/// Call `expectResponse(toHEAD:)` once per request sent, before its response can arrive (so
/// pipelined requests queue their expectations, at most 64): HEAD, 1xx, 204 and 304 have no
/// body. A response nobody asked for is an error ("unsolicited-response"). 1xx other than
/// 101 are reported as `.head` with their status and no `.end` (the caller skips them) and
/// parsing goes on with the final response; 101 is an error (we never ask to upgrade).
/// `parse` stops right after a response's `.end`. Every error has status 502.
public struct HTTP1ResponseParser {
    private let limits: HTTP1Limits
    private var headBuffer = HTTP1HeadBuffer()
    private var body = HTTP1BodyDecoder()
    private var fields: [HTTP1RawField] = []
    private var failure: HTTP1ParseError? = nil
    /// Responses expected, oldest in the low bit: 1 for a response to HEAD.
    private var expectedToHEAD: UInt64 = 0
    private var expectedCount = 0

    public init(limits: HTTP1Limits = .init()) {
        self.limits = limits
    }

    /// Records that a request was sent whose response comes after those already expected.
    public mutating func expectResponse(toHEAD: Bool) {
        precondition(expectedCount < 64, "more than 64 responses outstanding on one HTTP/1.1 connection")
        if toHEAD { expectedToHEAD |= 1 << UInt64(expectedCount) }
        expectedCount += 1
    }

    /// True between a final response's head and its end.
    public var inMessage: Bool { body.active }

    /// True while responses are expected or one is being read.
    public var awaitingResponse: Bool { expectedCount > 0 || body.active }

    /// Consumes bytes from `input`, calling `sink` for each event in order, and returns the
    /// bytes consumed. Throws on a protocol violation: the connection must be closed; the
    /// parser is unusable afterwards.
    public mutating func parse(_ input: UnsafeRawBufferPointer,
                               _ sink: (HTTP1Event<HTTP1ResponseHead>) -> Void) throws(HTTP1ParseError) -> Int {
        if let failure { throw failure }
        do {
            return try parseMessage(input, sink)
        } catch {
            failure = error
            throw error
        }
    }

    /// The peer closed: ends an `.untilClose` body (returns true and the caller emits end);
    /// false when a message was cut short or an expected response never came. True also on a
    /// close between messages with nothing expected (an idle pooled connection). The parser
    /// accepts nothing afterwards.
    public mutating func finishAtEOF() -> Bool {
        defer { failure = failure ?? HTTP1ParseError(status: 502, reason: "connection-closed") }
        if failure != nil { return false }
        if case .untilClose = body.state {
            body.state = .idle
            return true
        }
        return !body.active && !headBuffer.pending && expectedCount == 0
    }

    private mutating func parseMessage(_ input: UnsafeRawBufferPointer,
                                       _ sink: (HTTP1Event<HTTP1ResponseHead>) -> Void) throws(HTTP1ParseError) -> Int {
        guard let p = input.baseAddress, !input.isEmpty else { return 0 }
        var consumed = 0
        while !body.active {
            if consumed == input.count { return consumed }
            let rest = UnsafeRawBufferPointer(start: p + consumed, count: input.count - consumed)
            let tooLarge = HTTP1ParseError(status: 502, reason: "header-too-large")
            guard let found = try headBuffer.scan(rest, side: .response, skipLeadingEmptyLines: false,
                                                  limit: limits.maxHeaderBytes, tooLarge: { _ in tooLarge }) else {
                return input.count
            }
            guard expectedCount > 0 else { throw HTTP1ParseError(status: 502, reason: "unsolicited-response") }
            let toHEAD = expectedToHEAD & 1 != 0
            let head: HTTP1ResponseHead
            switch found {
            case .inInput(let start, let end):
                head = try HTTP1ResponseHead.parse(rawSlice(p + consumed, start, end), toHEAD: toHEAD,
                                                   limits: limits, fields: &fields)
                consumed += end
            case .inBuffer(let start, let used):
                head = try headBuffer.withBufferedSection(from: start) { (section) throws(HTTP1ParseError) in
                    try HTTP1ResponseHead.parse(section, toHEAD: toHEAD, limits: limits, fields: &fields)
                }
                consumed += used
            }
            if head.status < 200 {
                sink(.head(head))
                continue
            }
            expectedToHEAD >>= 1
            expectedCount -= 1
            let hasBody = body.start(head.framing)
            sink(.head(head))
            if !hasBody {
                sink(.end(trailers: nil))
                return consumed
            }
        }
        let rest = UnsafeRawBufferPointer(start: p + consumed, count: input.count - consumed)
        switch try body.decode(rest, side: .response, limits: limits, headBuffer: &headBuffer, fields: &fields, sink) {
        case .needMore:
            return input.count
        case .ended(let used, let trailers):
            sink(.end(trailers: trailers))
            return consumed + used
        }
    }
}
