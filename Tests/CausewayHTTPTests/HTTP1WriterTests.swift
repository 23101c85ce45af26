import Testing
@testable import CausewayHTTP

@Suite("HTTP1 writer")
struct HTTP1WriterTests {
    private func text(_ out: [UInt8]) -> String { String(decoding: out, as: UTF8.self) }

    @Test func responseHeadDropsPseudoAndConnectionFieldsAndAddsFraming() {
        let h = HeaderBlock([(":status", "200"), ("content-type", "text/plain"), ("connection", "x"),
                             ("transfer-encoding", "gzip"), ("content-length", "99"), ("keep-alive", "1"), ("upgrade", "h2c")])
        var out: [UInt8] = []
        HTTP1Writer.appendResponseHead(status: 200, headers: h, framing: .contentLength(5), keepAlive: true, to: &out)
        #expect(text(out) == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n")
        out = []
        HTTP1Writer.appendResponseHead(status: 503, headers: h, framing: .chunked, keepAlive: false, to: &out)
        #expect(text(out) == "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
        out = []
        HTTP1Writer.appendResponseHead(status: 599, headers: HeaderBlock(), framing: .untilClose, keepAlive: true,
                                       announceKeepAlive: true, to: &out)
        #expect(text(out) == "HTTP/1.1 599 \r\nconnection: keep-alive\r\n\r\n")
    }

    @Test func noneKeepsTheContentLengthOfAHeadResponse() {
        var out: [UInt8] = []
        HTTP1Writer.appendResponseHead(status: 200, headers: HeaderBlock([(":status", "200"), ("content-length", "1234")]),
                                       framing: .none, keepAlive: true, to: &out)
        #expect(text(out) == "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
    }

    @Test func valuesThatCouldSplitAMessageAreNotWritten() {
        let h = HeaderBlock([(":status", "200"), ("x-evil", "a\r\nset-cookie: b"), ("x-nul", "a\u{0}b"),
                             ("bad name", "v"), ("x-ok", "fine")])
        var out: [UInt8] = []
        HTTP1Writer.appendResponseHead(status: 200, headers: h, framing: .contentLength(0), keepAlive: true, to: &out)
        #expect(text(out) == "HTTP/1.1 200 OK\r\nx-ok: fine\r\ncontent-length: 0\r\n\r\n")
    }

    @Test func requestHeadFromHTTP2Block() {
        let h = HeaderBlock([(":method", "POST"), (":scheme", "http"), (":authority", "svc.ns:8080"), (":path", "/p?q"),
                             ("host", "other"), ("te", "trailers"), ("accept", "*/*")])
        var out: [UInt8] = []
        HTTP1Writer.appendRequestHead(h, framing: .chunked, to: &out)
        #expect(text(out) == "POST /p?q HTTP/1.1\r\nhost: svc.ns:8080\r\naccept: */*\r\ntransfer-encoding: chunked\r\n\r\n")
    }

    @Test func chunks() {
        var out: [UInt8] = []
        HTTP1Writer.appendChunkHeader(size: 0x1a2b, to: &out)
        out += Array("x".utf8)
        HTTP1Writer.appendChunkEnd(to: &out)
        HTTP1Writer.appendLastChunk(trailers: HeaderBlock([("grpc-status", "0"), ("content-length", "3")]), to: &out)
        #expect(text(out) == "1a2b\r\nx\r\n0\r\ngrpc-status: 0\r\n\r\n")
        out = []
        HTTP1Writer.appendLastChunk(trailers: nil, to: &out)
        #expect(text(out) == "0\r\n\r\n")
        #expect(text(HTTP1Writer.continue100) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func numbers() {
        for n: UInt64 in [0, 9, 10, 99, 100, 12345, UInt64.max] {
            var out: [UInt8] = []
            HTTP1Writer.appendDecimal(n, to: &out)
            #expect(text(out) == String(n))
            out = []
            HTTP1Writer.appendHex(n, to: &out)
            #expect(text(out) == String(n, radix: 16))
        }
    }
}
