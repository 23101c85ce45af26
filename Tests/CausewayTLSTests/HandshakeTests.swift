import CausewayBytes
import CausewayTLS
import Foundation
import XCTest

/// Real handshakes in memory between a cluster1 sidecar (client) and the cluster2 gateway
/// (server), with certificates from the tooling.
final class HandshakeTests: XCTestCase {
    let pki = TestPKI.shared

    func testMutualTLSAgreesOnH2AndShowsBothIdentities() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        let (client, server) = pump.handshake()
        XCTAssertEqual(client, .complete)
        XCTAssertEqual(server, .complete)
        XCTAssertEqual(pump.client.peerIdentity, pki.gatewayID)
        XCTAssertEqual(pump.server.peerIdentity, pki.proxyID)
        XCTAssertEqual(pump.client.negotiatedALPN, "h2")
        XCTAssertEqual(pump.server.negotiatedALPN, "h2")
        XCTAssertEqual(pump.client.protocolVersion, .tls13)
        XCTAssertEqual(pump.server.protocolVersion, .tls13)
        XCTAssertFalse(pump.client.sessionReused)
        XCTAssertFalse(pump.server.sessionReused)
        XCTAssertEqual(pump.client.context.localIdentity, pki.proxyID)
        XCTAssertEqual(pump.server.context.localIdentity, pki.gatewayID)
    }

    func testClientExpectingTheGatewayIdentityConnects() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient(), expectedPeer: pki.gatewayID),
            server: TLSConnection(context: try pki.gatewayServer())
        )
        let (client, server) = pump.handshake()
        XCTAssertEqual(client, .complete)
        XCTAssertEqual(server, .complete)
    }

    func testTLS12PeerIsAcceptedWithTheSameChecks() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient { $0.maximumVersion = .tls12 }),
            server: TLSConnection(context: try pki.gatewayServer())
        )
        let (client, server) = pump.handshake()
        XCTAssertEqual(client, .complete)
        XCTAssertEqual(server, .complete)
        XCTAssertEqual(pump.client.protocolVersion, .tls12)
        XCTAssertEqual(pump.server.protocolVersion, .tls12)
        XCTAssertEqual(pump.client.negotiatedALPN, "h2")
        XCTAssertEqual(pump.client.peerIdentity, pki.gatewayID)
        XCTAssertEqual(pump.server.peerIdentity, pki.proxyID)
    }

    func testRSAGatewayCertificateWorks() throws {
        // cluster2's intermediate has an RSA key; here the leaf is RSA as well.
        let now = Date()
        let leaf = try pki.layout.loadIntermediate(cluster: "cluster2").issueLeaf(
            name: "gateway-rsa", spiffeID: pki.gatewayID, keyAlgorithm: .rsa2048, validity: .days(30, from: now))
        try pki.layout.write(leaf: leaf, cluster: "cluster2", name: "gateway-rsa", force: true)
        let server = try TLSContext(pki.configuration(.server, identity: pki.identity("cluster2", "gateway-rsa")))
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: server))
        let (client, serverState) = pump.handshake()
        XCTAssertEqual(client, .complete)
        XCTAssertEqual(serverState, .complete)
        XCTAssertEqual(pump.client.peerIdentity, pki.gatewayID)
    }

    func testDataFlowsBothWaysIncludingOneMebibyte() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        _ = TLSPump.readAll(pump.client)  // session ticket

        var generator = SplitMix64(seed: 1)
        let big = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        XCTAssertEqual(TLSPump.send(big, from: pump.client, to: pump.server, slice: 1500), big)
        XCTAssertEqual(TLSPump.send(big, from: pump.server, to: pump.client), big)
        let small = Array("GET / HTTP/2\r\n".utf8)
        XCTAssertEqual(TLSPump.send(small, from: pump.client, to: pump.server), small)
        XCTAssertEqual(TLSPump.send(small, from: pump.server, to: pump.client), small)
    }

    func testPlaintextIsSentInFullSizeRecords() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        _ = TLSPump.take(pump.client)
        let payload = [UInt8](repeating: 7, count: 1 << 20)
        XCTAssertEqual(payload.withUnsafeBytes { pump.client.writePlaintext($0) }, payload.count)
        // TLS 1.3 with AES-GCM adds 22 bytes per record (5 header, 1 content type, 16 tag):
        // 64 records of 16 KiB, no small ones.
        XCTAssertEqual(pump.client.pendingCiphertext, payload.count + 64 * 22)
        let records = TLSPump.take(pump.client)
        var offset = 0
        var lengths: [Int] = []
        while offset + 5 <= records.count {
            let length = Int(records[offset + 3]) << 8 | Int(records[offset + 4])
            lengths.append(length)
            offset += 5 + length
        }
        XCTAssertEqual(offset, records.count)
        XCTAssertEqual(lengths, Array(repeating: 16 * 1024 + 17, count: 64))
    }

    func testGatheringWritePacksFramesIntoFullRecords() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        _ = TLSPump.readAll(pump.client)

        // What an HTTP/2 session produces: 9-byte frame headers copied, 16 KiB DATA payloads
        // by reference, and a small frame after each.
        var generator = SplitMix64(seed: 3)
        var payloads = ChunkQueue()
        var queue = OutputQueue()
        var expected: [UInt8] = []
        for i in 0..<4 {
            let header: [UInt8] = [0, 0x40, 0, 0, 0, 0, 0, 0, UInt8(2 * i + 1)]
            header.withUnsafeBytes { queue.append($0) }
            let payload = (0..<16_384).map { _ in UInt8.random(in: 0...255, using: &generator) }
            payload.withUnsafeBytes { payloads.append($0) }
            let run = try XCTUnwrap(payloads.peek(limit: payload.count))
            XCTAssertEqual(run.count, payload.count)
            queue.appendReference(run.chunk, offset: run.offset, count: run.count)
            payloads.consume(run.count)
            let ping: [UInt8] = Array(repeating: UInt8(i), count: 13)
            ping.withUnsafeBytes { queue.append($0) }
            expected += header + payload + ping
        }
        XCTAssertEqual(queue.pendingBytes, 4 * (9 + 16_384 + 13))

        XCTAssertEqual(pump.client.writePlaintext(draining: &queue), expected.count)
        XCTAssertTrue(queue.isEmpty)
        let records = TLSPump.take(pump.client)
        var lengths: [Int] = []
        var offset = 0
        while offset + 5 <= records.count {
            let length = Int(records[offset + 3]) << 8 | Int(records[offset + 4])
            lengths.append(length)
            offset += 5 + length
        }
        // 65,624 bytes: four full records and the 88-byte rest, not one record per segment.
        XCTAssertEqual(lengths, [16_401, 16_401, 16_401, 16_401, 88 + 17])
        records.withUnsafeBytes { pump.server.feed($0) }
        let (received, end) = TLSPump.readAll(pump.server)
        XCTAssertEqual(received, expected)
        XCTAssertEqual(end, .wantMore)

        // Before the handshake nothing is taken.
        let fresh = TLSConnection(context: try pki.sidecarClient())
        var pending = OutputQueue()
        ([1, 2, 3] as [UInt8]).withUnsafeBytes { pending.append($0) }
        XCTAssertEqual(fresh.writePlaintext(draining: &pending), 0)
        XCTAssertEqual(pending.pendingBytes, 3)
    }

    func testSecondClientConnectionResumesTheSession() throws {
        try assertResumption(maximumVersion: .tls13)
    }

    private func assertResumption(maximumVersion: TLSProtocolVersion, file: StaticString = #filePath, line: UInt = #line) throws {
        let clientContext = try pki.sidecarClient { $0.maximumVersion = maximumVersion }
        let serverContext = try pki.gatewayServer()
        let cache = TLSSessionCache()

        do {
            // The first connection is gone (closed without close_notify, as pooled
            // connections often are) before the second one starts.
            let first = TLSPump(
                client: TLSConnection(context: clientContext, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "10.0.2.10:15443"),
                server: TLSConnection(context: serverContext)
            )
            XCTAssertEqual(first.handshake().client, .complete, file: file, line: line)
            XCTAssertEqual(TLSPump.readAll(first.client).end, .wantMore, file: file, line: line)  // TLS 1.3 ticket arrives after the handshake
            XCTAssertEqual(cache.count, 1, file: file, line: line)
            XCTAssertFalse(first.client.sessionReused, file: file, line: line)
        }

        let second = TLSPump(
            client: TLSConnection(context: clientContext, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "10.0.2.10:15443"),
            server: TLSConnection(context: serverContext)
        )
        let (client, server) = second.handshake()
        XCTAssertEqual(client, .complete, file: file, line: line)
        XCTAssertEqual(server, .complete, file: file, line: line)
        XCTAssertTrue(second.client.sessionReused, file: file, line: line)
        XCTAssertTrue(second.server.sessionReused, file: file, line: line)
        // Identities still come from the certificates held in the session.
        XCTAssertEqual(second.client.peerIdentity, pki.gatewayID, file: file, line: line)
        XCTAssertEqual(second.server.peerIdentity, pki.proxyID, file: file, line: line)
        XCTAssertEqual(second.client.negotiatedALPN, "h2", file: file, line: line)
        let hello = Array("hello".utf8)
        XCTAssertEqual(TLSPump.send(hello, from: second.client, to: second.server), hello, file: file, line: line)
        // OpenSSL uses a TLS 1.3 session once; the ticket this connection receives replaces it.
        XCTAssertEqual(TLSPump.readAll(second.client).end, .wantMore, file: file, line: line)
        XCTAssertEqual(cache.count, 1, file: file, line: line)

        // Each resumed connection brings a fresh ticket, so a chain of reconnections keeps
        // resuming.
        for _ in 0..<3 {
            let next = TLSPump(
                client: TLSConnection(context: clientContext, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "10.0.2.10:15443"),
                server: TLSConnection(context: serverContext)
            )
            XCTAssertEqual(next.handshake().client, .complete, file: file, line: line)
            _ = TLSPump.readAll(next.client)
            XCTAssertTrue(next.client.sessionReused, "chained resumption", file: file, line: line)
        }

        // Another upstream has no session.
        let third = TLSPump(
            client: TLSConnection(context: clientContext, sessionCache: cache, upstreamKey: "10.0.3.10:15443"),
            server: TLSConnection(context: serverContext)
        )
        XCTAssertEqual(third.handshake().client, .complete, file: file, line: line)
        XCTAssertFalse(third.client.sessionReused, file: file, line: line)
    }

    func testReloadedClientContextDoesNotReuseOldSessions() throws {
        let serverContext = try pki.gatewayServer()
        let cache = TLSSessionCache()
        let before = TLSPump(client: TLSConnection(context: try pki.sidecarClient(), sessionCache: cache, upstreamKey: "gw"),
                             server: TLSConnection(context: serverContext))
        XCTAssertEqual(before.handshake().client, .complete)
        _ = TLSPump.readAll(before.client)
        XCTAssertEqual(cache.count, 1)

        let reloaded = try pki.sidecarClient()
        let after = TLSPump(client: TLSConnection(context: reloaded, sessionCache: cache, upstreamKey: "gw"),
                            server: TLSConnection(context: serverContext))
        XCTAssertEqual(after.handshake().server, .complete)
        XCTAssertFalse(after.client.sessionReused)
        XCTAssertFalse(after.server.sessionReused)
    }

    func testShutdownSendsCloseNotify() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        pump.client.shutdown()
        XCTAssertEqual(Array("late".utf8).withUnsafeBytes { pump.client.writePlaintext($0) }, 0)
        TLSPump.transfer(from: pump.client, to: pump.server)
        XCTAssertEqual(TLSPump.readAll(pump.server).end, .closed)
        pump.server.shutdown()
        TLSPump.transfer(from: pump.server, to: pump.client)
        XCTAssertEqual(TLSPump.readAll(pump.client).end, .closed)
    }

    func testEndOfStreamWithoutCloseNotifyIsReported() throws {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        pump.server.receivedEndOfStream()
        XCTAssertEqual(TLSPump.reason(TLSPump.readAll(pump.server).end), .unexpectedEOF)
    }

    func testWritesBeforeTheHandshakeAreRefused() throws {
        let client = TLSConnection(context: try pki.sidecarClient())
        XCTAssertEqual(Array("early".utf8).withUnsafeBytes { client.writePlaintext($0) }, 0)
        XCTAssertEqual(client.handshake(), .needsIO)
        XCTAssertGreaterThan(client.pendingCiphertext, 0)  // the ClientHello
    }
}
