import CausewayBytes

/// The body (and optional trailers) one side of a stream sends, buffered until nghttp2's
/// data provider pulls it out in DATA frames.
///
/// The provider hands out the queued chunks by reference (`NGHTTP2_DATA_FLAG_NO_COPY`),
/// so bytes are copied once on their way through the proxy: into this queue.
public final class H2OutboundBody {
    /// Bytes waiting to be framed.
    public internal(set) var queue = ChunkQueue()
    /// True once the producer has no more bytes (END_STREAM follows the last one).
    public internal(set) var ended = false
    /// Trailers to send after the last DATA frame.
    public internal(set) var trailers: HeaderBlock?
    /// True while nghttp2 has deferred the provider for lack of data.
    var deferred = false
    /// The stream this body is attached to (0 before submission).
    public internal(set) var streamID: Int32 = 0
    /// Server side: when the body's end is framed and the peer is still sending on the
    /// stream, send RST_STREAM(NO_ERROR) after it — the response is complete and the rest of
    /// the request is not wanted (RFC 9113 §8.1); the client keeps the response.
    public var resetStreamAtEnd = false

    public init() {}

    deinit { queue.removeAll() }

    /// Bytes queued and not yet framed.
    public var bufferedBytes: Int { queue.readableBytes }

    /// Drops the queued bytes and trailers and marks the body ended; returns how many bytes
    /// were dropped (their window credit is owed to the side they came from).
    @discardableResult
    public func discard() -> Int {
        let dropped = queue.readableBytes
        queue.removeAll()
        ended = true
        trailers = nil
        return dropped
    }
}

/// Direct access for connections that frame a body themselves (HTTP/1.1, which has no
/// nghttp2 data provider): the producer appends and ends, the connection takes runs of the
/// queue by reference (`peek`) and consumes what it framed.
extension H2OutboundBody {
    /// Copies `bytes` to the end of the queue (the one copy a payload gets).
    public func append(_ bytes: UnsafeRawBufferPointer) {
        queue.append(bytes)
    }

    /// Marks the body complete; `trailers`, if any, follow the last byte.
    public func end(trailers: HeaderBlock?) {
        ended = true
        self.trailers = trailers
    }

    /// The first contiguous run of queued bytes, at most `limit` long, without consuming it.
    public func peek(limit: Int) -> (chunk: ByteChunk, offset: Int, count: Int)? {
        queue.peek(limit: limit)
    }

    /// Consumes `count` framed bytes from the front.
    public func consume(_ count: Int) {
        queue.consume(count)
    }

    /// Makes an ended, emptied body ready for another message of the same connection (one
    /// message at a time), keeping its last chunk for the next bytes.
    public func restart() {
        precondition(queue.isEmpty, "a body still holding bytes cannot be restarted")
        ended = false
        trailers = nil
    }
}
