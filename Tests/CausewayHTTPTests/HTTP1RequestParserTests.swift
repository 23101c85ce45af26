import Testing
@testable import CausewayHTTP

@Suite("HTTP1 request parser")
struct HTTP1RequestParserTests {
    @Test func simpleGetBecomesHTTP2Head() {
        let (rec, err) = parseRequests(Array(http: "GET /a?b=c HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"))
        #expect(err == nil)
        #expect(rec.heads == [[":method: GET", ":scheme: http", ":authority: Example.com:8080", ":path: /a?b=c",
                               "user-agent: curl/8", "accept: */*"]])
        #expect(rec.framings == [.none])
        #expect(rec.keepAlives == [true])
        #expect(rec.order == ["head", "end"])
        #expect(rec.ends == [nil])
    }

    @Test func contentLengthBody() {
        let (rec, err) = parseRequests(Array(http: "POST /up HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello"))
        #expect(err == nil)
        #expect(rec.framings == [.contentLength(5)])
        #expect(rec.heads[0].contains("content-length: 5"))
        #expect(rec.body == Array("hello".utf8))
        #expect(rec.order == ["head", "body", "end"])
    }

    @Test func chunkedBodyWithTrailers() {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
            + "5\r\nhello\r\n6;name=val;q=\"x y\"\r\n world\r\n0\r\nX-Checksum: abc\r\nContent-Length: 9\r\n\r\n"
        let (rec, err) = parseRequests(Array(http: text))
        #expect(err == nil)
        #expect(rec.framings == [.chunked])
        #expect(rec.heads[0] == [":method: POST", ":scheme: http", ":authority: a", ":path: /", "te: trailers"])
        #expect(rec.body == Array("hello world".utf8))
        #expect(rec.ends == [["x-checksum: abc"]])
    }

    @Test func chunkedWithoutTrailersEndsWithNil() {
        let (rec, err) = parseRequests(Array(http: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        #expect(err == nil)
        #expect(rec.ends == [nil])
        #expect(rec.body == Array("abc".utf8))
    }

    @Test func keepAliveRules() {
        #expect(parseRequests(Array(http: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).0.keepAlives == [false])
        #expect(parseRequests(Array(http: "GET / HTTP/1.0\r\n\r\n")).0.keepAlives == [false])
        #expect(parseRequests(Array(http: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).0.keepAlives == [true])
        #expect(parseRequests(Array(http: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n")).0.keepAlives == [false])
    }

    @Test func expectContinue() {
        let (rec, err) = parseRequests(Array(http: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx"))
        #expect(err == nil)
        #expect(rec.continues == [true])
        #expect(!rec.heads[0].contains { $0.hasPrefix("expect") })
        #expect(requestError("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n")?.status == 417)
        // HTTP/1.0 expectations are ignored.
        #expect(parseRequests(Array(http: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")).0.continues == [false])
    }

    @Test func headWithoutBodyIsNotBufferedAgain() {
        // The head arrives in two reads: the parser keeps the first part, consumes all.
        var parser = HTTP1RequestParser()
        let a = Array(http: "GET / HTTP/1.1\r\nHo")
        let b = Array(http: "st: a\r\n\r\nGET /next HTTP/1.1\r\n")
        var heads = 0, ends = 0
        let usedA = try! withBytes(a) { raw throws(HTTP1ParseError) in try parser.parse(raw) { _ in } }
        #expect(usedA == a.count)
        #expect(parser.headPending)
        let usedB = try! withBytes(b) { raw throws(HTTP1ParseError) in
            try parser.parse(raw) { e in
                if case .head = e { heads += 1 }
                if case .end = e { ends += 1 }
            }
        }
        #expect(usedB == "st: a\r\n\r\n".utf8.count)
        #expect(heads == 1 && ends == 1)
        #expect(!parser.headPending && !parser.inMessage)
    }
}

@Suite("HTTP1 pipelining")
struct HTTP1PipeliningTests {
    @Test func parseStopsAfterEachEnd() throws {
        let first = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        let second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        let third = "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
        let all = Array((first + second + third).utf8)
        var parser = HTTP1RequestParser()
        var offset = 0
        var paths: [String] = []
        for expected in [first, second, third] {
            var ends = 0
            let used = try withBytes(Array(all[offset...])) { raw throws(HTTP1ParseError) in
                try parser.parse(raw) { e in
                    if case .head(let h) = e { paths.append(h.headers.value(of: ":path") ?? "") }
                    if case .end = e { ends += 1 }
                }
            }
            #expect(used == expected.utf8.count)
            #expect(ends == 1)
            offset += used
        }
        #expect(paths == ["/1", "/2", "/3"])
        #expect(offset == all.count)
    }
}
