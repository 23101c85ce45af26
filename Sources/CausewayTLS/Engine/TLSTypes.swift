/// Which end of the handshake a context serves.
public enum TLSRole: Sendable, Hashable {
    /// Accepts connections (the gateway's east-west listener).
    case server
    /// Opens connections (a sidecar's pooled connections to remote gateways).
    case client
}

/// TLS versions the engine speaks. TLS 1.3 is preferred; 1.2 is allowed for older peers.
public enum TLSProtocolVersion: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    case tls12 = 0x0303
    case tls13 = 0x0304

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String { self == .tls13 ? "TLSv1.3" : "TLSv1.2" }
}

/// Result of driving the handshake.
public enum TLSHandshakeState: Sendable, Equatable {
    /// Both sides agreed; the peer's identity and ALPN were checked.
    case complete
    /// Waiting for the peer: take the ciphertext, write it, and feed what arrives.
    case needsIO
    /// Refused or broken. Take the ciphertext once more (it may hold an alert telling the
    /// peer why), write it, then close.
    case failed(TLSError)
}

/// Result of reading decrypted bytes.
public enum TLSReadResult: Sendable, Equatable {
    /// This many plaintext bytes were written to the buffer; call again, there may be more.
    case bytes(Int)
    /// No whole record is buffered: feed more ciphertext.
    case wantMore
    /// The peer sent close_notify: no more data will come.
    case closed
    /// The stream is broken (bad record, alert, end of stream without close_notify).
    case failed(TLSError)
}
