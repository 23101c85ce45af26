import XCTest
@testable import CausewayHTTP
@testable import CausewayProxy

final class RequestRewriteTests: XCTestCase {
    func names(_ h: HeaderBlock) -> [String] { (0..<h.count).map { h.name(at: $0) } }

    func testAuthorityIsReplacedInPlaceAheadOfRegularHeaders() {
        let request = HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "webapp-cluster2"), (":path", "/"),
                                   ("user-agent", "t"), ("accept", "*/*")])
        let out = RequestRewrite.authority(Array("webapp.production".utf8)).applied(to: request)
        XCTAssertEqual(names(out), [":method", ":scheme", ":authority", ":path", "user-agent", "accept"])
        XCTAssertEqual(out.value(of: ":authority"), "webapp.production")
    }

    func testHostIsDroppedAndAuthorityAddedAfterThePseudoHeaders() {
        let request = HeaderBlock([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "webapp-cluster2"), ("accept", "*/*")])
        let out = RequestRewrite.authority(Array("webapp.production".utf8)).applied(to: request)
        XCTAssertEqual(names(out), [":method", ":scheme", ":path", ":authority", "accept"])
        XCTAssertEqual(out.value(of: ":authority"), "webapp.production")
        XCTAssertNil(out.value(of: "host"))
    }

    func testForwardedClientCertReplacesWhatTheCallerSent() {
        let value = RequestRewrite.forwardedClientCertValue(by: "spiffe://mesh.local/ns/a/sa/gw", peer: "spiffe://mesh.local/ns/b/sa/caller")
        XCTAssertEqual(String(decoding: value, as: UTF8.self), "By=spiffe://mesh.local/ns/a/sa/gw;URI=spiffe://mesh.local/ns/b/sa/caller")
        let forged = HeaderBlock([(":method", "GET"), (":path", "/"), ("x-forwarded-client-cert", "By=evil"), ("accept", "*/*"),
                                  ("x-forwarded-client-cert", "URI=evil")])
        let out = RequestRewrite.forwardedClientCert(value).applied(to: forged)
        XCTAssertEqual(names(out), [":method", ":path", "accept", "x-forwarded-client-cert"])
        XCTAssertEqual(out.value(of: "x-forwarded-client-cert"), String(decoding: value, as: UTF8.self))
        // Without one, the block is copied whole and the header appended.
        let plain = RequestRewrite.forwardedClientCert(value).applied(to: HeaderBlock([(":method", "GET")]))
        XCTAssertEqual(names(plain), [":method", "x-forwarded-client-cert"])
    }
}

final class ProxyFailureTests: XCTestCase {
    func testEveryFailureHasItsStatusAndReason() {
        let table: [(ProxyFailure, Int, String)] = [
            (.noRoute, 404, "no-route"), (.notExported, 403, "not-exported"), (.missingAuthority, 400, "missing-authority"),
            (.noHealthyUpstream, 503, "no-healthy-upstream"), (.upstreamConnectFailure, 503, "upstream-connect-failure"),
            (.upstreamRefused, 503, "upstream-refused"), (.upstreamIdentityMismatch, 503, "upstream-identity-mismatch"),
            (.upstreamReset, 502, "upstream-reset"), (.headerTooLarge, 431, "header-too-large"),
            (.upstreamHeaderTooLarge, 502, "upstream-header-too-large"), (.requestTimeout, 408, "request-timeout"),
            (.upstreamTimeout, 504, "upstream-timeout"), (.authorityMismatch, 400, "authority-mismatch"),
            (.methodNotAllowed, 405, "method-not-allowed"),
        ]
        for (failure, status, reason) in table {
            XCTAssertEqual(failure.status, status, "\(failure)")
            XCTAssertEqual(failure.reason, reason)
            let h = failure.headers(bodyLength: 12)
            XCTAssertEqual(h.status, status)
            XCTAssertEqual(h.value(of: "x-causeway-reason"), reason)
            XCTAssertEqual(h.value(of: "content-length"), "12")
        }
    }
}

final class PrefaceTests: XCTestCase {
    func match(_ text: String, after: Int = 0) -> HTTP2Preface.Match {
        Array(text.utf8).withUnsafeBytes { HTTP2Preface.match($0, alreadyMatched: after) }
    }

    func testPrefaceMayArriveInPieces() {
        XCTAssertEqual(match("PRI * HTTP/2.0\r\n"), .partial(16))
        XCTAssertEqual(match("\r\nSM\r\n\r\n", after: 16), .complete)
        XCTAssertEqual(match("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\u{4}"), .complete)
        XCTAssertEqual(match("GET / HTTP/1.1\r\n"), .mismatch)
        XCTAssertEqual(match("PRX"), .mismatch)
        XCTAssertEqual(match(""), .partial(0))
    }
}

final class SidecarEditTests: XCTestCase {
    func testSidecarDropsEveryForwardedClientCert() {
        let forged = HeaderBlock([(":method", "GET"), (":authority", "webapp"), ("x-forwarded-client-cert", "URI=spiffe://evil"),
                                  ("accept", "*/*"), ("x-forwarded-client-cert", "By=evil")])
        let out = HeaderEdit(dropping: RequestRewrite.forwardedClientCertName).applied(to: forged)
        XCTAssertEqual((0..<out.count).map { out.name(at: $0) }, [":method", ":authority", "accept"])
    }
}
