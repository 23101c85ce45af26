import CausewayBytes
import CausewayTLS
import XCTest

/// Plaintext, garbage and truncated records are refused with a reason, never a crash.
final class GarbageInputTests: XCTestCase {
    let pki = TestPKI.shared

    private func gateway() throws -> TLSConnection {
        TLSConnection(context: try pki.gatewayServer())
    }

    private func feed(_ connection: TLSConnection, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { connection.feed($0) }
    }

    /// A fresh, real ClientHello from a sidecar.
    private func clientHello() throws -> [UInt8] {
        let client = TLSConnection(context: try pki.sidecarClient())
        XCTAssertEqual(client.handshake(), .needsIO)
        return TLSPump.take(client)
    }

    // MARK: Plaintext

    func testPlaintextHTTP1RequestIsNotTLS() throws {
        let server = try gateway()
        feed(server, Array("GET / HTTP/1.1\r\nHost: webapp.production\r\n\r\n".utf8))
        guard case .failed(let error) = server.handshake() else { return XCTFail("accepted plaintext") }
        XCTAssertEqual(error.reason, .notTLS)
        XCTAssertTrue(error.detail.contains("GET / HTTP/1.1"), error.detail)
        XCTAssertEqual(server.handshake(), .failed(error))  // stays failed
    }

    func testHTTP2PrefaceIsNotTLS() throws {
        let server = try gateway()
        feed(server, Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0])
        XCTAssertEqual(TLSPump.reason(server.handshake()), .notTLS)
    }

    func testPlaintextBytesArrivingOneAtATimeAreNotTLS() throws {
        let server = try gateway()
        feed(server, [UInt8(ascii: "P")])
        XCTAssertEqual(TLSPump.reason(server.handshake()), .notTLS)
    }

    func testPlaintextResponseToTheClientIsNotTLS() throws {
        let client = TLSConnection(context: try pki.sidecarClient())
        XCTAssertEqual(client.handshake(), .needsIO)
        feed(client, Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        XCTAssertEqual(TLSPump.reason(client.handshake()), .notTLS)
    }

    // MARK: Garbage and truncation in the handshake

    func testRandomGarbageIsRefused() throws {
        var random = SplitMix64(seed: 0xC0FFEE)
        let allowed: Set<TLSFailureReason> = [.protocolError, .notTLS, .unsupportedVersion, .closedDuringHandshake, .handshakeFailure]
        for round in 0..<400 {
            let server = try gateway()
            var bytes = (0..<Int.random(in: 1...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Two rounds in three get past the record layer: a handshake record header with a
            // consistent length, and then a ClientHello header, so the parser sees the garbage.
            if round % 3 != 0 && bytes.count > 9 {
                let body = min(bytes.count - 5, Int.random(in: 4...2000, using: &random))
                bytes.replaceSubrange(0..<5, with: [0x16, 0x03, 0x01, UInt8(body >> 8), UInt8(body & 0xFF)])
                if round % 3 == 2 {
                    let message = body - 4
                    bytes.replaceSubrange(5..<9, with: [0x01, 0x00, UInt8(message >> 8), UInt8(message & 0xFF)])
                }
            }
            var state = TLSHandshakeState.needsIO
            var offset = 0
            while offset < bytes.count, state == .needsIO {
                let end = min(bytes.count, offset + Int.random(in: 1...700, using: &random))
                feed(server, Array(bytes[offset..<end]))
                offset = end
                state = server.handshake()
            }
            if state == .needsIO {
                server.receivedEndOfStream()
                state = server.handshake()
            }
            guard let reason = TLSPump.reason(state) else { return XCTFail("round \(round): garbage gave \(state)") }
            XCTAssertTrue(allowed.contains(reason), "round \(round): \(state)")
            _ = TLSPump.take(server)  // an alert may be queued; taking it must be safe
        }
    }

    func testEveryTruncationOfAClientHelloFailsAtEndOfStream() throws {
        let hello = try clientHello()
        XCTAssertGreaterThan(hello.count, 100)
        for length in 1..<hello.count {
            let server = try gateway()
            feed(server, Array(hello[0..<length]))
            XCTAssertEqual(server.handshake(), .needsIO, "prefix \(length)")
            server.receivedEndOfStream()
            XCTAssertEqual(TLSPump.reason(server.handshake()), .closedDuringHandshake, "prefix \(length)")
        }
    }

    func testMutatedClientHellosAreRefused() throws {
        var random = SplitMix64(seed: 42)
        let hello = try clientHello()
        for round in 0..<300 {
            var bytes = hello
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            }
            let server = try gateway()
            feed(server, bytes)
            var state = server.handshake()
            if state == .needsIO {
                server.receivedEndOfStream()
                state = server.handshake()
            }
            // A flipped byte may land in an ignored field; then the handshake proceeds and
            // waits for the client's next flight, which never comes.
            XCTAssertNotNil(TLSPump.reason(state), "round \(round): \(state)")
            _ = TLSPump.take(server)
        }
    }

    func testMutatedServerFlightsAreRefusedByTheClient() throws {
        var random = SplitMix64(seed: 99)
        for round in 0..<200 {
            let client = TLSConnection(context: try pki.sidecarClient())
            let server = try gateway()
            _ = client.handshake()
            TLSPump.transfer(from: client, to: server)
            XCTAssertEqual(server.handshake(), .needsIO)
            var flight = TLSPump.take(server)  // ServerHello .. Finished
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                flight[Int.random(in: 0..<flight.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            }
            feed(client, flight)
            var state = client.handshake()
            if state == .needsIO {
                client.receivedEndOfStream()
                state = client.handshake()
            }
            XCTAssertNotNil(TLSPump.reason(state), "round \(round): \(state)")
            XCTAssertNil(client.peerIdentity)
        }
    }

    // MARK: Garbage and truncation after the handshake

    private func established() throws -> TLSPump {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: try pki.gatewayServer()))
        XCTAssertEqual(pump.handshake().server, .complete)
        return pump
    }

    private func record(_ text: String, from connection: TLSConnection) -> [UInt8] {
        XCTAssertEqual(Array(text.utf8).withUnsafeBytes { connection.writePlaintext($0) }, text.utf8.count)
        return TLSPump.take(connection)
    }

    func testCorruptedRecordIsAProtocolError() throws {
        let pump = try established()
        var bytes = record("hello, gateway", from: pump.client)
        bytes[bytes.count - 3] ^= 0x40
        feed(pump.server, bytes)
        let (plaintext, end) = TLSPump.readAll(pump.server)
        XCTAssertEqual(plaintext, [])
        XCTAssertEqual(TLSPump.reason(end), .protocolError)
        // Failed for good; writes are refused.
        XCTAssertEqual(Array("x".utf8).withUnsafeBytes { pump.server.writePlaintext($0) }, 0)
        var queue = OutputQueue()
        Array("y".utf8).withUnsafeBytes { queue.append($0) }
        XCTAssertEqual(pump.server.writePlaintext(draining: &queue), 0)
    }

    func testTruncatedRecordThenEndOfStreamIsUnexpectedEOF() throws {
        let pump = try established()
        let bytes = record("hello, gateway", from: pump.client)
        feed(pump.server, Array(bytes[0..<(bytes.count / 2)]))
        XCTAssertEqual(TLSPump.readAll(pump.server).end, .wantMore)
        pump.server.receivedEndOfStream()
        XCTAssertEqual(TLSPump.reason(TLSPump.readAll(pump.server).end), .unexpectedEOF)
    }

    func testOversizedRecordIsAProtocolError() throws {
        let pump = try established()
        feed(pump.server, [0x17, 0x03, 0x03, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64))
        XCTAssertEqual(TLSPump.reason(TLSPump.readAll(pump.server).end), .protocolError)
    }

    func testRandomGarbageAfterTheHandshakeIsRefused() throws {
        var random = SplitMix64(seed: 7)
        for round in 0..<200 {
            let pump = try established()
            let bytes = (0..<Int.random(in: 1...2000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            feed(pump.client, bytes)
            var end = TLSPump.readAll(pump.client).end
            if end == .wantMore {
                pump.client.receivedEndOfStream()
                end = TLSPump.readAll(pump.client).end
            }
            XCTAssertNotNil(TLSPump.reason(end), "round \(round): \(end)")
        }
    }
}
