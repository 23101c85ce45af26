import XCTest
@testable import CausewayBytes
@testable import CausewayHTTP

/// Drives a client and a server session against each other in memory: bytes out of one
/// are fed into the other, with no sockets.
final class H2SessionTests: XCTestCase {
    struct Pair {
        let client = H2Session(role: .client, settings: H2Settings(maxConcurrentStreams: 10, initialStreamWindow: 65535, connectionWindow: 1 << 20))
        let server = H2Session(role: .server, settings: H2Settings(maxConcurrentStreams: 10, initialStreamWindow: 65535, connectionWindow: 1 << 20))
        var clientEvents: [H2Event] = []
        var serverEvents: [H2Event] = []
        /// Copies of DATA payloads (events point into transient buffers).
        var serverData: [Int32: [UInt8]] = [:]
        var clientData: [Int32: [UInt8]] = [:]

        /// Moves bytes both ways until neither side has anything to send.
        mutating func pump() throws {
            for _ in 0..<1000 {
                let a = try move(from: client, to: server, events: &serverEvents, data: &serverData)
                let b = try move(from: server, to: client, events: &clientEvents, data: &clientData)
                if !a && !b { return }
            }
            XCTFail("sessions did not go quiet")
        }

        private func move(from: H2Session, to: H2Session, events: inout [H2Event], data: inout [Int32: [UInt8]]) throws -> Bool {
            try from.produceOutput(limit: 1 << 20)
            events += from.events.filter { if case .bodySent = $0 { return true } else { return false } }
            from.events.removeAll { if case .bodySent = $0 { return true } else { return false } }
            guard !from.output.isEmpty else { return false }
            var bytes: [UInt8] = []
            from.output.withSegments(maxSegments: 100_000) { segs in
                for s in segs { bytes += UnsafeRawBufferPointer(start: s.0, count: s.1) }
            }
            from.output.consume(bytes.count)
            try bytes.withUnsafeBytes { try to.receive($0) }
            for e in to.events {
                if case .data(let id, let b) = e { data[id, default: []] += b }
            }
            events += to.events
            to.events.removeAll()
            return true
        }
    }

    func request(_ path: String) -> HeaderBlock {
        HeaderBlock([(":method", "POST"), (":scheme", "http"), (":authority", "webapp"), (":path", path)])
    }

    func testRequestWithBodyAndTrailersAndResponseWithBody() throws {
        var p = Pair()
        let body = H2OutboundBody()
        let id = p.client.submitRequest(request("/upload"), body: body)
        XCTAssertGreaterThan(id, 0)
        let payload = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        payload.withUnsafeBytes { p.client.send($0, on: body) }
        p.client.finish(body, trailers: HeaderBlock([("grpc-status", "0")]))
        try p.pump()
        XCTAssertEqual(p.serverData[id], payload)
        var sawRequest = false, sawTrailers = false
        for e in p.serverEvents {
            if case .headers(let sid, let block, _) = e, sid == id {
                if block.value(of: ":path") == "/upload" { sawRequest = true }
                if block.value(of: "grpc-status") == "0" { sawTrailers = true }
            }
        }
        XCTAssertTrue(sawRequest)
        XCTAssertTrue(sawTrailers)

        let response = H2OutboundBody()
        XCTAssertEqual(p.server.submitResponse(streamID: id, HeaderBlock([(":status", "200")]), body: response), 0)
        [UInt8](repeating: 9, count: 1000).withUnsafeBytes { p.server.send($0, on: response) }
        p.server.finish(response)
        p.server.consume(streamID: id, count: payload.count)
        try p.pump()
        XCTAssertEqual(p.clientData[id], [UInt8](repeating: 9, count: 1000))
        XCTAssertTrue(p.clientEvents.contains { if case .headers(id, let b, _) = $0 { return b.status == 200 } else { return false } })
        XCTAssertTrue(p.clientEvents.contains { if case .streamClosed(id, 0) = $0 { return true } else { return false } })
    }

    /// A response edit that replaces one field (the sidecar's `x-causeway-upstream-cluster`)
    /// drops every field of that name the upstream sent and adds its own, last.
    func testAReplacingResponseEditReplacesEveryFieldOfItsName() throws {
        var p = Pair()
        let id = p.client.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "w"), (":path", "/")]), body: nil)
        try p.pump()
        let head = HeaderBlock([(":status", "200"), ("x-causeway-upstream-cluster", "forged"), ("server", "s"),
                                ("x-causeway-upstream-cluster", "again"), ("x-causeway-upstream-clusterx", "kept")])
        let edit = HeaderEdit(replacing: ("x-causeway-upstream-cluster", Array("cluster2".utf8)))
        XCTAssertEqual(p.server.submitResponse(streamID: id, head, edit: edit, body: nil), 0)
        try p.pump()
        let block = p.clientEvents.compactMap { e -> HeaderBlock? in if case .headers(id, let b, _) = e { return b } else { return nil } }.first
        let fields = (0..<(block?.count ?? 0)).map { "\(block!.name(at: $0))=\(block!.value(at: $0))" }
        XCTAssertEqual(fields, [":status=200", "server=s", "x-causeway-upstream-clusterx=kept", "x-causeway-upstream-cluster=cluster2"])
    }

    /// With automatic window updates off, a receiver that never consumes stops the sender
    /// at the stream window: this is the proxy's backpressure.
    func testUnconsumedDataStopsTheSenderAtTheWindow() throws {
        var p = Pair()
        let body = H2OutboundBody()
        let id = p.client.submitRequest(request("/big"), body: body)
        [UInt8](repeating: 1, count: 200_000).withUnsafeBytes { p.client.send($0, on: body) }
        try p.pump()
        XCTAssertEqual(p.serverData[id]?.count, 65535)
        XCTAssertEqual(body.bufferedBytes, 200_000 - 65535)
        p.server.consume(streamID: id, count: 65535)
        try p.pump()
        XCTAssertEqual(p.serverData[id]?.count, 131_070)
    }

    func testResetReachesThePeer() throws {
        var p = Pair()
        let id = p.client.submitRequest(request("/slow"), body: H2OutboundBody())
        try p.pump()
        p.client.reset(streamID: id, errorCode: H2ErrorCode.cancel)
        try p.pump()
        XCTAssertTrue(p.serverEvents.contains { if case .streamClosed(id, H2ErrorCode.cancel) = $0 { return true } else { return false } })
    }

    func testGarbageIsAConnectionErrorNotACrash() throws {
        let server = H2Session(role: .server, settings: H2Settings())
        let garbage = [UInt8]("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        XCTAssertThrowsError(try garbage.withUnsafeBytes { try server.receive($0) })
    }

    func testRandomBytesAfterPrefaceNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let server = H2Session(role: .server, settings: H2Settings())
            var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
            bytes += (0..<Int.random(in: 1...512, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? bytes.withUnsafeBytes { try server.receive($0) }
            _ = try? server.produceOutput(limit: 1 << 20)
        }
    }

    func testHeaderBlockLookups() {
        let h = HeaderBlock([(":status", "503"), ("x-causeway-reason", "no-route")])
        XCTAssertEqual(h.status, 503)
        XCTAssertEqual(h.value(of: "x-causeway-reason"), "no-route")
        XCTAssertNil(h.value(of: "absent"))
        XCTAssertNil(HeaderBlock([(":status", "5x3")]).status)
    }
}
