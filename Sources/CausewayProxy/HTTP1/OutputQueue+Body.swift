import CausewayBytes
import CausewayHTTP

extension OutputQueue {
    /// Moves up to `limit` queued bytes of `body` into this output by reference (the body's
    /// chunks stay alive until written; no copy) and consumes them from the body. Returns how
    /// many. HTTP/1.1 frames bodies itself: this is its `NGHTTP2_DATA_FLAG_NO_COPY`.
    mutating func appendReferences(from body: H2OutboundBody, limit: Int) -> Int {
        var moved = 0
        while moved < limit, let run = body.peek(limit: limit - moved) {
            appendReference(run.chunk, offset: run.offset, count: run.count)
            body.consume(run.count)
            moved += run.count
        }
        return moved
    }
}
