import CausewayBytes
import CausewayTLS
import XCTest

/// Moves ciphertext between two connections in memory, the way two event loops joined by a
/// socket would.
struct TLSPump {
    let client: TLSConnection
    let server: TLSConnection

    /// Takes everything `from` produced and feeds it to `to`, through an `OutputQueue` as the
    /// proxy does. Returns the bytes moved.
    @discardableResult
    static func transfer(from: TLSConnection, to: TLSConnection) -> Int {
        let bytes = take(from)
        bytes.withUnsafeBytes { to.feed($0) }
        return bytes.count
    }

    /// Everything `connection` produced, as bytes.
    static func take(_ connection: TLSConnection) -> [UInt8] {
        var queue = OutputQueue()
        connection.takeCiphertext(into: &queue)
        var bytes: [UInt8] = []
        queue.withSegments(maxSegments: Int.max) { segments in
            for (base, count) in segments { bytes += UnsafeRawBufferPointer(start: base, count: count) }
        }
        queue.consume(bytes.count)
        return bytes
    }

    /// Drives both handshakes until a round moves no bytes (each side has completed, failed,
    /// or waits for bytes that will not come).
    func handshake() -> (client: TLSHandshakeState, server: TLSHandshakeState) {
        var clientState = client.handshake()
        var serverState = TLSHandshakeState.needsIO
        for _ in 0..<100 {
            let sent = Self.transfer(from: client, to: server)
            serverState = server.handshake()
            let received = Self.transfer(from: server, to: client)
            clientState = client.handshake()
            if sent == 0 && received == 0 { break }
        }
        return (clientState, serverState)
    }

    /// Reads everything `connection` can decrypt now. Returns the bytes and the final
    /// result (`.wantMore`, `.closed` or `.failed`).
    static func readAll(_ connection: TLSConnection) -> (bytes: [UInt8], end: TLSReadResult) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let result = buffer.withUnsafeMutableBytes { connection.readPlaintext(into: $0) }
            guard case .bytes(let n) = result else { return (bytes, result) }
            bytes += buffer[0..<n]
        }
    }

    /// Sends `payload` from `sender` to `receiver`, moving ciphertext in slices of `slice`
    /// bytes (so records arrive split), and returns what the receiver decrypted.
    static func send(_ payload: [UInt8], from sender: TLSConnection, to receiver: TLSConnection, slice: Int = 65_536) -> [UInt8] {
        let accepted = payload.withUnsafeBytes { sender.writePlaintext($0) }
        XCTAssertEqual(accepted, payload.count)
        let ciphertext = take(sender)
        var received: [UInt8] = []
        var offset = 0
        while offset < ciphertext.count {
            let end = min(offset + slice, ciphertext.count)
            ciphertext[offset..<end].withUnsafeBytes { receiver.feed($0) }
            offset = end
            let (bytes, result) = readAll(receiver)
            received += bytes
            XCTAssertEqual(result, .wantMore)
        }
        return received
    }

    /// The reason of a failed state, or nil.
    static func reason(_ state: TLSHandshakeState) -> TLSFailureReason? {
        if case .failed(let error) = state { return error.reason }
        return nil
    }

    static func reason(_ result: TLSReadResult) -> TLSFailureReason? {
        if case .failed(let error) = result { return error.reason }
        return nil
    }
}

/// A deterministic generator for the fuzz loops (SplitMix64), so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
