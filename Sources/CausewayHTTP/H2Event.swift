/// Something the peer did, reported by `H2Session` after nghttp2 returns control.
///
/// `data` points into the input buffer passed to `H2Session.receive(_:)` and is valid only
/// until the caller reuses that buffer: consume events before the next read.
public enum H2Event {
    /// A HEADERS block: request or response headers (has a pseudo-header) or trailers.
    case headers(streamID: Int32, block: HeaderBlock, endStream: Bool)
    /// A DATA payload (padding removed).
    case data(streamID: Int32, bytes: UnsafeRawBufferPointer)
    /// The peer ended the stream with a DATA frame's END_STREAM flag.
    case endStream(streamID: Int32)
    /// The stream is closed; `errorCode` 0 (NO_ERROR) for a normal close, else the
    /// RST_STREAM or connection error code.
    case streamClosed(streamID: Int32, errorCode: UInt32)
    /// The peer sent GOAWAY: streams above `lastStreamID` were not processed.
    case goaway(lastStreamID: Int32, errorCode: UInt32)
    /// The peer's SETTINGS changed (for example MAX_CONCURRENT_STREAMS).
    case settings
    /// `count` bytes of an outbound body left in DATA frames; return that much window
    /// credit on the stream they came from.
    case bodySent(streamID: Int32, count: Int)
    /// A received header block went over `maxHeaderListSize` or `maxHeaderFields`; its
    /// fields were dropped as they were decoded. Server role: reported when the block is
    /// complete, the stream still open (answer 431). Client role: reported as soon as the
    /// limit is passed; nghttp2 then resets the stream.
    case headersTooLarge(streamID: Int32, endStream: Bool)
    /// nghttp2 could not send a HEADERS frame we submitted on this stream; nothing else will
    /// be sent on it. `tooLarge`: the block could not be serialized within
    /// `max_send_header_block_length`; otherwise (a GOAWAY arrived first, the stream went
    /// away) nghttp2 closes the stream itself, REFUSED_STREAM for a request never sent.
    case headersNotSent(streamID: Int32, tooLarge: Bool)
}

/// HTTP/2 error codes (RFC 9113 §7) the proxy uses.
public enum H2ErrorCode {
    public static let noError: UInt32 = 0x0
    public static let protocolError: UInt32 = 0x1
    public static let internalError: UInt32 = 0x2
    public static let refusedStream: UInt32 = 0x7
    public static let cancel: UInt32 = 0x8
    public static let enhanceYourCalm: UInt32 = 0xb
}
