import Testing
@testable import CausewayHTTP

/// Valid traffic the feeding and round-trip tests use: pipelined messages of every framing.
let validStreams: [String] = [
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\r\nGET /x?y HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Many: 1\r\nX-Many: 2\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /u HTTP/1.1\r\nHost: svc.ns\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"
        + "PUT /v HTTP/1.1\r\nHost: svc.ns\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
        + "5;ext=1\r\nhello\r\n1\r\n \r\na\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-Other: two words\r\n\r\n"
        + "DELETE /d HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n",
    "GET http://svc:8080/p HTTP/1.1\r\nHost: svc:8080\r\nConnection: close\r\n\r\n",
]

@Suite("HTTP1 feeding")
struct HTTP1FeedingTests {
    /// Byte at a time, in small pieces, and at every single cut point: the same events.
    @Test(arguments: validStreams.indices)
    func splitFeedingEqualsWholeFeeding(index: Int) {
        let bytes = Array(validStreams[index].utf8)
        let whole = parseRequests(bytes)
        #expect(whole.1 == nil)
        #expect(!whole.0.ends.isEmpty)
        for split in [1, 2, 3, 7, 16] {
            let r = parseRequests(bytes, split: split)
            #expect(r.0 == whole.0 && r.1 == nil, "split \(split)")
        }
        for cut in 1..<bytes.count {
            let r = parseRequests(bytes, cuts: [cut])
            #expect(r.0 == whole.0 && r.1 == nil, "cut at \(cut)")
        }
    }

    /// Every corpus entry fails the same way fed byte by byte as whole.
    @Test func corpusFailsTheSameWayByteAtATime() {
        for c in smugglingCorpus {
            let bytes = Array(c.text.utf8)
            let whole = parseRequests(bytes)
            let single = parseRequests(bytes, split: 1)
            #expect(whole.1 != nil, "\(c.name)")
            #expect(single.1 == whole.1, "\(c.name)")
            #expect(single.0.heads == whole.0.heads, "\(c.name)")
        }
    }

    @Test func limitVerdictDoesNotDependOnSplit() {
        let limits = HTTP1Limits(maxHeaderBytes: 40, maxHeaderCount: 4, maxTrailerBytes: 20)
        let texts = ["GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaa\r\n\r\n",
                     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: a\r\nX: 12345678901\r\n\r\n",
                     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1234567890123456\r\n\r\n"]
        for t in texts {
            let bytes = Array(t.utf8)
            let whole = parseRequests(bytes, limits: limits)
            for split in [1, 5] { #expect(parseRequests(bytes, split: split, limits: limits).1 == whole.1, "\(t)") }
        }
    }

    @Test func bodySlicesPointIntoTheInput() throws {
        for text in [validStreams[2], validStreams[3]] {
            let bytes = Array(text.utf8)
            var parser = HTTP1RequestParser()
            var offset = 0
            var bodyEvents = 0
            while offset < bytes.count {
                let used = try bytes.withUnsafeBytes { raw -> Int in
                    let input = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    return try withTyped { () throws(HTTP1ParseError) -> Int in
                        try parser.parse(input) { e in
                            if case .body(let b) = e {
                                bodyEvents += 1
                                #expect(b.baseAddress! >= input.baseAddress! && b.baseAddress! + b.count <= input.baseAddress! + input.count)
                            }
                        }
                    }
                }
                #expect(used > 0)
                offset += used
            }
            #expect(bodyEvents > 0)
        }
    }

    @Test func headPendingAndInMessage() throws {
        var parser = HTTP1RequestParser()
        func feed(_ s: String) throws -> Int {
            try withBytes(Array(s.utf8)) { raw throws(HTTP1ParseError) in try parser.parse(raw) { _ in } }
        }
        #expect(!parser.headPending && !parser.inMessage)
        _ = try feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n")
        #expect(parser.headPending && !parser.inMessage)
        _ = try feed("\r\n3\r\nabc\r\n")
        #expect(!parser.headPending && parser.inMessage)
        _ = try feed("0\r\nX-T:")
        #expect(parser.headPending && parser.inMessage)
        #expect(try feed(" 1\r\n\r\nGET") == 6)
        #expect(!parser.headPending && !parser.inMessage)
    }
}

/// Runs a typed-throwing parse inside an untyped-throwing closure.
func withTyped<R>(_ body: () throws(HTTP1ParseError) -> R) throws -> R { try body() }

@Suite("HTTP1 round trip")
struct HTTP1RoundTripTests {
    /// Fields that the writer re-derives from the framing or drops on purpose.
    private func comparable(_ lines: [String]) -> [String] {
        lines.filter { !$0.hasPrefix("content-length:") && !$0.hasPrefix("te:") }
    }

    /// Each request of a stream, parsed, written by HTTP1Writer and parsed again, is the same
    /// request: same head, framing, body and trailers.
    @Test(arguments: validStreams.indices)
    func requestsSurviveWriterAndParser(index: Int) throws {
        let first = parseRequests(Array(validStreams[index].utf8))
        #expect(first.1 == nil)
        var wire: [UInt8] = []
        // Rebuild the stream message by message from what the parser reported.
        var parser = HTTP1RequestParser()
        var heads: [HTTP1RequestHead] = []
        var bodies: [[UInt8]] = [[]]
        var trailers: [HeaderBlock?] = []
        var pending = Array(validStreams[index].utf8)
        while !pending.isEmpty {
            let used = try withBytes(pending) { raw throws(HTTP1ParseError) in
                try parser.parse(raw) { e in
                    switch e {
                    case .head(let h): heads.append(h)
                    case .body(let b): bodies[bodies.count - 1] += b
                    case .end(let t): trailers.append(t); bodies.append([])
                    }
                }
            }
            pending.removeFirst(used)
        }
        for (i, h) in heads.enumerated() {
            #expect(HTTP1Writer.appendRequestHead(h.headers, framing: h.framing, to: &wire))
            if h.framing == .chunked {
                if !bodies[i].isEmpty {
                    HTTP1Writer.appendChunkHeader(size: bodies[i].count, to: &wire)
                    wire += bodies[i]
                    HTTP1Writer.appendChunkEnd(to: &wire)
                }
                HTTP1Writer.appendLastChunk(trailers: trailers[i], to: &wire)
            } else {
                wire += bodies[i]
            }
        }
        let second = parseRequests(wire)
        #expect(second.1 == nil)
        #expect(second.0.heads.map(comparable) == first.0.heads.map(comparable))
        #expect(second.0.framings == first.0.framings)
        #expect(second.0.body == first.0.body)
        #expect(second.0.ends == first.0.ends)
    }

    @Test(arguments: [HTTP1Framing.none, .contentLength(3), .chunked])
    func responsesSurviveWriterAndParser(framing: HTTP1Framing) throws {
        let headers = HeaderBlock([(":status", "201"), ("content-type", "text/plain"), ("x-multi", "a"), ("x-multi", "b, c"),
                                   ("connection", "close"), ("set-cookie", "k=v; Path=/")])
        var wire: [UInt8] = []
        HTTP1Writer.appendResponseHead(status: 201, headers: headers, framing: framing, keepAlive: true, to: &wire)
        switch framing {
        case .contentLength: wire += Array("abc".utf8)
        case .chunked:
            HTTP1Writer.appendChunkHeader(size: 3, to: &wire)
            wire += Array("abc".utf8)
            HTTP1Writer.appendChunkEnd(to: &wire)
            HTTP1Writer.appendLastChunk(trailers: HeaderBlock([("grpc-status", "0")]), to: &wire)
        default: break
        }
        var parser = HTTP1ResponseParser()
        parser.expectResponse(toHEAD: framing == .none)
        var got: HTTP1ResponseHead? = nil
        var body: [UInt8] = []
        var ended: HeaderBlock?? = nil
        let used = try withBytes(wire) { raw throws(HTTP1ParseError) in
            try parser.parse(raw) { e in
                switch e {
                case .head(let h): got = h
                case .body(let b): body += b
                case .end(let t): ended = .some(t)
                }
            }
        }
        #expect(used == wire.count)
        #expect(got?.status == 201 && got?.framing == framing && got?.keepAlive == true)
        #expect(got.map { comparable(lines($0.headers)) } == [":status: 201", "content-type: text/plain", "x-multi: a",
                                                               "x-multi: b, c", "set-cookie: k=v; Path=/"])
        #expect(body == (framing == .none ? [] : Array("abc".utf8)))
        #expect(ended.map { $0.map(lines) } == .some(framing == .chunked ? ["grpc-status: 0"] : nil))
    }
}
