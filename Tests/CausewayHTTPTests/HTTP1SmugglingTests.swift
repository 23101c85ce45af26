import Testing
@testable import CausewayHTTP

/// A request head with `fields` between Host and the end, then `body`.
private func request(_ fields: String, body: String = "", line: String = "POST / HTTP/1.1") -> String {
    "\(line)\r\nHost: a\r\n\(fields)\r\n\(body)"
}

/// Requests RFC 9112 says to refuse, with the status and reason each gets. Every one is
/// also checked fed byte by byte (HTTP1FeedingTests) and must fail the same way.
let smugglingCorpus: [(name: String, text: String, status: Int, reason: String)] = [
    // Both framings (RFC 9112 §6.1): the CL.TE and TE.CL attacks.
    ("CL then TE", request("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", body: "0\r\n\r\n"), 400, "content-length-and-chunked"),
    ("TE then CL", request("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", body: "0\r\n\r\n"), 400, "content-length-and-chunked"),
    ("TE obfuscated, with CL", request("Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n"), 400, "content-length-and-chunked"),
    // Transfer-encoding other than exactly "chunked".
    ("TE chunked, identity", request("Transfer-Encoding: chunked, identity\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE identity, chunked", request("Transfer-Encoding: identity, chunked\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE xchunked", request("Transfer-Encoding: xchunked\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE chunkedx", request("Transfer-Encoding: chunkedx\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE quoted", request("Transfer-Encoding: \"chunked\"\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE with parameter", request("Transfer-Encoding: chunked;q=1\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE twice", request("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE chunked then identity", request("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"), 501, "unsupported-transfer-encoding"),
    ("TE empty", request("Transfer-Encoding: \r\n"), 501, "unsupported-transfer-encoding"),
    ("TE with vertical tab", request("Transfer-Encoding: chunked\u{0B}\r\n"), 400, "invalid-header-value"),
    ("TE with space before colon", request("Transfer-Encoding : chunked\r\n"), 400, "space-before-colon"),
    ("TE with tab before colon", request("Transfer-Encoding\t: chunked\r\n"), 400, "space-before-colon"),
    ("TE folded", request("Transfer-Encoding:\r\n chunked\r\n"), 400, "obs-fold"),
    ("TE in HTTP/1.0", request("Transfer-Encoding: chunked\r\n", line: "POST / HTTP/1.0"), 400, "transfer-encoding-in-http10"),
    // Content-Length (RFC 9110 §8.6).
    ("CL differing duplicates", request("Content-Length: 4\r\nContent-Length: 5\r\n"), 400, "invalid-content-length"),
    ("CL differing list", request("Content-Length: 4, 5\r\n"), 400, "invalid-content-length"),
    ("CL plus sign", request("Content-Length: +4\r\n"), 400, "invalid-content-length"),
    ("CL minus sign", request("Content-Length: -1\r\n"), 400, "invalid-content-length"),
    ("CL inner space", request("Content-Length: 1 2\r\n"), 400, "invalid-content-length"),
    ("CL hex", request("Content-Length: 0x10\r\n"), 400, "invalid-content-length"),
    ("CL empty", request("Content-Length: \r\n"), 400, "invalid-content-length"),
    ("CL empty element", request("Content-Length: 4,\r\n"), 400, "invalid-content-length"),
    ("CL overflow", request("Content-Length: 18446744073709551616\r\n"), 400, "invalid-content-length"),
    ("CL 20 digits", request("Content-Length: 00000000000000000001\r\n"), 400, "invalid-content-length"),
    // Field lines (RFC 9112 §5).
    ("obs-fold", request("X-A: a\r\n b\r\n"), 400, "obs-fold"),
    ("obs-fold with tab", request("X-A: a\r\n\tb\r\n"), 400, "obs-fold"),
    ("whitespace after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obs-fold"),
    ("bare CR in value", request("X-A: a\rb\r\n"), 400, "bare-cr"),
    ("bare CR ending a line", request("X-A: a\r\r\n"), 400, "bare-cr"),
    ("bare CR in name", request("X\rA: a\r\n"), 400, "bare-cr"),
    ("bare LF ending a field", request("X-A: a\nX-B: b\r\n"), 400, "bare-lf"),
    ("bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", 400, "bare-lf"),
    ("bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare-lf"),
    ("NUL in value", request("X-A: a\u{0}b\r\n"), 400, "nul-in-value"),
    ("DEL in value", request("X-A: a\u{7F}b\r\n"), 400, "invalid-header-value"),
    ("NUL in name", request("X\u{0}A: a\r\n"), 400, "invalid-header-name"),
    ("space before colon", request("Content-Length : 4\r\n"), 400, "space-before-colon"),
    ("space inside name", request("Content Length: 4\r\n"), 400, "invalid-header-name"),
    ("invalid name char", request("X@A: a\r\n"), 400, "invalid-header-name"),
    ("parenthesis in name", request("X(A): a\r\n"), 400, "invalid-header-name"),
    ("non-ASCII name", request("Ä: a\r\n"), 400, "invalid-header-name"),
    ("empty name", request(": a\r\n"), 400, "empty-header-name"),
    ("no colon", request("X-A a\r\n"), 400, "invalid-header-name"),
    ("no colon, one word", request("Garbage\r\n"), 400, "missing-colon"),
    // Chunked framing (RFC 9112 §7.1).
    ("chunk size 17 hex digits", request("Transfer-Encoding: chunked\r\n", body: "10000000000000000\r\n"), 400, "chunk-size-too-long"),
    ("chunk size overflow with zeros", request("Transfer-Encoding: chunked\r\n", body: "00000000000000001\r\nx\r\n"), 400, "chunk-size-too-long"),
    ("chunk size negative", request("Transfer-Encoding: chunked\r\n", body: "-1\r\n"), 400, "invalid-chunk-size"),
    ("chunk size hex prefix", request("Transfer-Encoding: chunked\r\n", body: "0x5\r\n"), 400, "invalid-chunk-size"),
    ("chunk size leading space", request("Transfer-Encoding: chunked\r\n", body: " 5\r\n"), 400, "invalid-chunk-size"),
    ("chunk size empty", request("Transfer-Encoding: chunked\r\n", body: "\r\n"), 400, "invalid-chunk-size"),
    ("chunk size trailing space", request("Transfer-Encoding: chunked\r\n", body: "5 \r\n"), 400, "invalid-chunk-extension"),
    ("chunk size bare LF", request("Transfer-Encoding: chunked\r\n", body: "5\nhello\r\n"), 400, "bare-lf"),
    ("chunk size bare CR", request("Transfer-Encoding: chunked\r\n", body: "5\rhello\r\n"), 400, "bare-cr"),
    ("chunk data too long", request("Transfer-Encoding: chunked\r\n", body: "3\r\nabcd\r\n"), 400, "missing-chunk-crlf"),
    ("chunk data bare LF", request("Transfer-Encoding: chunked\r\n", body: "3\r\nabc\n0\r\n\r\n"), 400, "missing-chunk-crlf"),
    ("chunk data CR only", request("Transfer-Encoding: chunked\r\n", body: "3\r\nabc\r0\r\n\r\n"), 400, "missing-chunk-crlf"),
    ("extension without name", request("Transfer-Encoding: chunked\r\n", body: "3;\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension empty name", request("Transfer-Encoding: chunked\r\n", body: "3;=v\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension value missing", request("Transfer-Encoding: chunked\r\n", body: "3;a=\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension value with space", request("Transfer-Encoding: chunked\r\n", body: "3;a=b c\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension unterminated quote", request("Transfer-Encoding: chunked\r\n", body: "3;a=\"b\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension NUL", request("Transfer-Encoding: chunked\r\n", body: "3;a\u{0}\r\nabc\r\n"), 400, "invalid-chunk-extension"),
    ("extension bare LF", request("Transfer-Encoding: chunked\r\n", body: "3;a\nabc\r\n"), 400, "bare-lf"),
    ("extension too long", request("Transfer-Encoding: chunked\r\n", body: "3;a=" + String(repeating: "b", count: 5000) + "\r\nabc\r\n"),
     400, "chunk-extension-too-long"),
    ("trailer obs-fold", request("Transfer-Encoding: chunked\r\n", body: "0\r\nX-T: a\r\n b\r\n\r\n"), 400, "obs-fold"),
    ("trailer bare LF", request("Transfer-Encoding: chunked\r\n", body: "0\r\nX-T: a\n\r\n"), 400, "bare-lf"),
    ("trailer invalid name", request("Transfer-Encoding: chunked\r\n", body: "0\r\nX T: a\r\n\r\n"), 400, "invalid-header-name"),
    // Request line (RFC 9112 §3).
    ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "invalid-version"),
    ("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-line"),
    ("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-version"),
    ("tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("DEL in target", "GET /a\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("NUL in target", "GET /a\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "invalid-version"),
    ("version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "invalid-version"),
    ("no version", "GET /\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("invalid method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-method"),
    ("relative target", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("https absolute-form", "GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("userinfo in absolute-form", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid-request-target"),
    ("HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http-version-not-supported"),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "http-version-not-supported"),
    ("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505, "http-version-not-supported"),
    // Host (RFC 9112 §3.2).
    ("missing Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400, "missing-host"),
    ("two Hosts", request("Host: b\r\n"), 400, "multiple-host"),
    ("two equal Hosts", request("Host: a\r\n"), 400, "multiple-host"),
    ("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid-host"),
    ("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid-host"),
    ("absolute-form disagrees with Host", "GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "authority-mismatch"),
    // Expectations (RFC 9110 §10.1.1).
    ("unknown expectation", request("Expect: 200-ok\r\n"), 417, "unsupported-expectation"),
]

@Suite("HTTP1 smuggling corpus")
struct HTTP1SmugglingTests {
    @Test(arguments: smugglingCorpus.indices)
    func refused(index: Int) {
        let c = smugglingCorpus[index]
        let (rec, err) = parseRequests(Array(c.text.utf8))
        #expect(err == HTTP1ParseError(status: c.status, reason: c.reason), "\(c.name)")
        // A refused head is never reported; a refused body may follow its head, never a second message.
        #expect(rec.ends.isEmpty, "\(c.name)")
    }

    @Test func afterAnErrorNothingMoreIsParsed() throws {
        var parser = HTTP1RequestParser()
        let bad = Array(request("Content-Length: 1\r\nTransfer-Encoding: chunked\r\n").utf8)
        let good = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        var events = 0
        #expect(throws: HTTP1ParseError.self) { _ = try withBytes(bad) { raw throws(HTTP1ParseError) in try parser.parse(raw) { _ in events += 1 } } }
        #expect(throws: HTTP1ParseError(status: 400, reason: "content-length-and-chunked")) {
            _ = try withBytes(good) { raw throws(HTTP1ParseError) in try parser.parse(raw) { _ in events += 1 } }
        }
        #expect(events == 0)
    }

    /// A body that looks like a request is body: with content-length the bytes after it are
    /// the next request only because the length says so; one request never becomes two.
    @Test func bodyLookingLikeARequestStaysBody() {
        let inner = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
        let (rec, err) = parseRequests(Array(request("Content-Length: \(inner.utf8.count)\r\n", body: inner).utf8))
        #expect(err == nil)
        #expect(rec.heads.count == 1 && rec.ends.count == 1)
        #expect(rec.body == Array(inner.utf8))
        let chunkedInner = "\(String(inner.utf8.count, radix: 16))\r\n\(inner)\r\n0\r\n\r\n"
        let (rec2, err2) = parseRequests(Array(request("Transfer-Encoding: chunked\r\n", body: chunkedInner).utf8))
        #expect(err2 == nil)
        #expect(rec2.heads.count == 1 && rec2.ends.count == 1)
        #expect(rec2.body == Array(inner.utf8))
    }

    @Test func acceptedVariants() {
        // OWS (SP and HTAB) around values is not part of them.
        let (rec, err) = parseRequests(Array(request("Transfer-Encoding:\t Chunked \t\r\n", body: "1\r\nx\r\n0\r\n\r\n").utf8))
        #expect(err == nil && rec.framings == [.chunked] && rec.body == [0x78])
        // Identical content-length duplicates are one content-length.
        let (rec2, err2) = parseRequests(Array(request("Content-Length: 2\r\nContent-Length: 2, 2\r\n", body: "ab").utf8))
        #expect(err2 == nil && rec2.framings == [.contentLength(2)])
        #expect(rec2.heads[0].filter { $0.hasPrefix("content-length") } == ["content-length: 2"])
        // Chunk extensions within the grammar, with BWS, tokens and quoted strings.
        let ext = "3 ; a ; b = c;d=\"q \\\" ;x\"\r\nabc\r\n0;last\r\n\r\n"
        let (rec3, err3) = parseRequests(Array(request("Transfer-Encoding: chunked\r\n", body: ext).utf8))
        #expect(err3 == nil && rec3.body == Array("abc".utf8))
        // The largest chunk size that fits: accepted, its data awaited.
        let (rec4, err4) = parseRequests(Array(request("Transfer-Encoding: chunked\r\n", body: "FFFFFFFFFFFFFFFF\r\nab").utf8))
        #expect(err4 == nil && rec4.body == Array("ab".utf8) && rec4.ends.isEmpty)
        // Empty lines before a request line are skipped (RFC 9112 §2.2).
        #expect(parseRequests(Array("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)).1 == nil)
        // A later minor version is read as HTTP/1.1.
        #expect(parseRequests(Array("GET / HTTP/1.2\r\nHost: a\r\n\r\n".utf8)).0.keepAlives == [true])
        // Host may be empty (no :authority then; routing refuses it).
        #expect(parseRequests(Array("GET / HTTP/1.1\r\nHost:\r\n\r\n".utf8)).0.heads == [[":method: GET", ":scheme: http", ":path: /"]])
    }

    @Test func targetForms() {
        let abs = parseRequests(Array("GET HTTP://Svc.NS:80?q=1 HTTP/1.1\r\nHost: svc.ns:80\r\n\r\n".utf8)).0
        #expect(abs.heads == [[":method: GET", ":scheme: http", ":authority: Svc.NS:80", ":path: /?q=1"]])
        let absPath = parseRequests(Array("GET http://svc/x/y HTTP/1.1\r\nHost: svc\r\n\r\n".utf8)).0
        #expect(absPath.heads == [[":method: GET", ":scheme: http", ":authority: svc", ":path: /x/y"]])
        let absNoHost = parseRequests(Array("GET http://svc/ HTTP/1.0\r\n\r\n".utf8)).0
        #expect(absNoHost.heads == [[":method: GET", ":scheme: http", ":authority: svc", ":path: /"]])
        let star = parseRequests(Array("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n".utf8)).0
        #expect(star.heads == [[":method: OPTIONS", ":scheme: http", ":authority: a", ":path: *"]])
        let connect = parseRequests(Array("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".utf8)).0
        #expect(connect.heads == [[":method: CONNECT", ":authority: a:443"]])
        #expect(connect.keepAlives == [false])
    }

    @Test func connectionSpecificFieldsAreRemoved() {
        let text = "GET / HTTP/1.1\r\nX-Early: 1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, X-Early, keep-alive, host\r\n"
            + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
            + "TE: gzip\r\nX-Late: 2\r\n\r\n"
        let (rec, err) = parseRequests(Array(text.utf8))
        #expect(err == nil)
        #expect(rec.heads == [[":method: GET", ":scheme: http", ":authority: a", ":path: /", "x-late: 2"]])
    }

    @Test func limits() {
        let small = HTTP1Limits(maxHeaderBytes: 64, maxHeaderCount: 3, maxTrailerBytes: 32)
        #expect(requestError("GET /\(String(repeating: "a", count: 80)) HTTP/1.1\r\nHost: a\r\n\r\n", limits: small)
            == HTTP1ParseError(status: 414, reason: "request-line-too-long"))
        #expect(requestError("GET / HTTP/1.1\r\nHost: a\r\nX-A: \(String(repeating: "a", count: 60))\r\n\r\n", limits: small)
            == HTTP1ParseError(status: 431, reason: "header-too-large"))
        #expect(requestError("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: small)
            == HTTP1ParseError(status: 431, reason: "too-many-headers"))
        #expect(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: \(String(repeating: "t", count: 40))\r\n\r\n",
                             limits: small) == HTTP1ParseError(status: 431, reason: "trailers-too-large"))
        // Exactly at the limit is within it.
        let exact = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 64 - 32) + "\r\n\r\n"
        #expect(exact.utf8.count == 64)
        #expect(requestError(exact, limits: small) == nil)
        let over = "GET / HTTP/1.1\r\nHost: a\r\nX:  " + String(repeating: "b", count: 64 - 32) + "\r\n\r\n"
        #expect(requestError(over, limits: small)?.status == 431)
    }
}
