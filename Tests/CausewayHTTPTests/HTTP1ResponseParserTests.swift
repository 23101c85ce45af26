import Testing
@testable import CausewayHTTP

/// What a response parser reported for `text`, fed in pieces of `split` bytes, with one
/// expectation per entry of `toHEAD`; the error if any, and whether EOF then ended cleanly.
private func parseResponses(_ text: String, toHEAD: [Bool] = [false], split: Int? = nil,
                            eof: Bool = false) -> (rec: HTTP1Recorded, error: HTTP1ParseError?, eofClean: Bool?) {
    var parser = HTTP1ResponseParser()
    for h in toHEAD { parser.expectResponse(toHEAD: h) }
    var rec = HTTP1Recorded()
    var pending: [UInt8] = []
    do {
        for piece in piecesOf(Array(text.utf8), split: split, cuts: nil) {
            pending += piece
            while !pending.isEmpty {
                let before = rec.ends.count
                let used = try withBytes(pending) { raw throws(HTTP1ParseError) in
                    try parser.parse(raw) { e in
                        switch e {
                        case .head(let h):
                            rec.heads.append(lines(h.headers))
                            rec.statuses.append(h.status)
                            rec.framings.append(h.framing)
                            rec.keepAlives.append(h.keepAlive)
                            rec.note("head")
                        case .body(let b):
                            rec.body += b
                            rec.note("body")
                        case .end(let t):
                            rec.ends.append(t.map(lines))
                            rec.note("end")
                        }
                    }
                }
                pending.removeFirst(used)
                if rec.ends.count == before { break }
            }
        }
    } catch let error as HTTP1ParseError {
        return (rec, error, nil)
    } catch {
        Issue.record("unexpected \(error)")
    }
    return (rec, nil, eof ? parser.finishAtEOF() : nil)
}

@Suite("HTTP1 response parser")
struct HTTP1ResponseParserTests {
    @Test(arguments: [nil, 1, 3])
    func contentLength(split: Int?) {
        let r = parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc", split: split)
        #expect(r.error == nil)
        #expect(r.rec.heads == [[":status: 200", "content-length: 3", "x-a: b"]])
        #expect(r.rec.framings == [.contentLength(3)] && r.rec.keepAlives == [true])
        #expect(r.rec.body == Array("abc".utf8))
        #expect(r.rec.order == ["head", "body", "end"])
    }

    @Test(arguments: [nil, 1])
    func chunkedWithTrailers(split: Int?) {
        let r = parseResponses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\ngrpc-status: 0\r\n\r\n", split: split)
        #expect(r.error == nil)
        #expect(r.rec.framings == [.chunked])
        #expect(r.rec.heads == [[":status: 200"]])
        #expect(r.rec.ends == [["grpc-status: 0"]])
    }

    @Test func headResponseHasNoBodyWhateverItsLength() {
        let r = parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", toHEAD: [true])
        #expect(r.error == nil)
        #expect(r.rec.framings == [.none])
        #expect(r.rec.heads == [[":status: 200", "content-length: 1234"]])
        #expect(r.rec.order == ["head", "end"])
    }

    @Test func noBodyStatuses() {
        for status in ["204 No Content", "304 Not Modified"] {
            let r = parseResponses("HTTP/1.1 \(status)\r\nContent-Length: 0\r\n\r\n")
            #expect(r.error == nil)
            #expect(r.rec.framings == [.none])
            #expect(r.rec.order == ["head", "end"])
        }
        // HTTP/2 forbids content-length on a 204.
        #expect(parseResponses("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").rec.heads == [[":status: 204"]])
    }

    @Test func informationalResponsesPrecedeTheFinalOne() {
        let r = parseResponses("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
                               split: 7)
        #expect(r.error == nil)
        #expect(r.rec.statuses == [100, 103, 201])
        #expect(r.rec.order == ["head", "head", "head", "end"])
    }

    @Test func switchingProtocolsIsRefused() {
        #expect(parseResponses("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n").error?.reason == "unexpected-upgrade")
    }

    @Test func bodyUntilCloseEndsAtEOF() {
        let r = parseResponses("HTTP/1.0 200 OK\r\n\r\nstreamed until close", split: 5, eof: true)
        #expect(r.error == nil)
        #expect(r.rec.framings == [.untilClose] && r.rec.keepAlives == [false])
        #expect(r.rec.body == Array("streamed until close".utf8))
        #expect(r.eofClean == true)
        #expect(r.rec.ends.isEmpty)
    }

    @Test func eofInsideAMessageIsNotClean() {
        #expect(parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof: true).eofClean == false)
        #expect(parseResponses("HTTP/1.1 200 OK\r\nContent-", eof: true).eofClean == false)
        #expect(parseResponses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", eof: true).eofClean == false)
        #expect(parseResponses("", eof: true).eofClean == false)             // expected, never came
        #expect(parseResponses("", toHEAD: [], eof: true).eofClean == true)  // idle pooled connection
        #expect(parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", eof: true).eofClean == true)
    }

    @Test func keepAlive() {
        #expect(parseResponses("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").rec.keepAlives == [false])
        #expect(parseResponses("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").rec.keepAlives == [false])
        #expect(parseResponses("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").rec.keepAlives == [true])
    }

    @Test func pipelinedResponsesFollowTheirRequests() {
        let r = parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
                               toHEAD: [true, false])
        #expect(r.error == nil)
        #expect(r.rec.framings == [.none, .contentLength(2)])
        #expect(r.rec.body == Array("hi".utf8))
        #expect(r.rec.ends.count == 2)
    }

    @Test func unsolicitedResponseIsAnError() {
        #expect(parseResponses("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", toHEAD: []).error?.reason == "unsolicited-response")
    }

    @Test func connectionSpecificFieldsAreRemoved() {
        let r = parseResponses("HTTP/1.1 200 OK\r\nConnection: x-hop, keep-alive\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-End: 2\r\nContent-Length: 0\r\n\r\n")
        #expect(r.rec.heads == [[":status: 200", "x-end: 2", "content-length: 0"]])
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "content-length-and-chunked"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported-transfer-encoding"),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer-encoding-in-http10"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "invalid-content-length"),
        ("HTTP/2.0 200 OK\r\n\r\n", "http-version-not-supported"),
        ("HTTP/1.1 20 OK\r\n\r\n", "invalid-status-line"),
        ("HTTP/1.1 099 Low\r\n\r\n", "invalid-status"),
        ("HTTP/1.1 200 O\u{1}K\r\n\r\n", "invalid-status-line"),
        ("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold"),
        ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare-lf"),
        ("http/1.1 200 OK\r\n\r\n", "invalid-status-line"),
    ])
    func malformedResponses(text: String, reason: String) {
        let e = parseResponses(text).error
        #expect(e == HTTP1ParseError(status: 502, reason: reason))
    }

    @Test func statusLineWithoutReason() {
        let r = parseResponses("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        #expect(r.error == nil && r.rec.statuses == [200])
    }
}
