/// The SETTINGS a session advertises, sent explicitly at session start (nghttp2's own
/// defaults allow unlimited concurrent streams).
public struct H2Settings: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may open towards us.
    public var maxConcurrentStreams: UInt32
    /// SETTINGS_INITIAL_WINDOW_SIZE: per-stream receive window, bytes.
    public var initialStreamWindow: UInt32
    /// Connection-level receive window, bytes (raised with WINDOW_UPDATE on stream 0).
    public var connectionWindow: UInt32
    /// SETTINGS_MAX_HEADER_LIST_SIZE, bytes, and the limit we enforce on every received
    /// header block as it is decoded: the sum of name + value + 32 per field (RFC 9113 §6.5.2).
    public var maxHeaderListSize: UInt32
    /// Most fields in one received header block (pseudo-headers included).
    public var maxHeaderFields: UInt32

    public init(maxConcurrentStreams: UInt32 = 256, initialStreamWindow: UInt32 = 1 << 20,
                connectionWindow: UInt32 = 16 << 20, maxHeaderListSize: UInt32 = 65536,
                maxHeaderFields: UInt32 = 100) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindow = initialStreamWindow
        self.connectionWindow = connectionWindow
        self.maxHeaderListSize = maxHeaderListSize
        self.maxHeaderFields = maxHeaderFields
    }
}

/// Which end of the connection a session is.
public enum H2Role: Sendable {
    /// Accepts streams (downstream connections).
    case server
    /// Opens streams (upstream connections).
    case client
}

/// A connection-level failure reported by nghttp2.
public struct H2SessionError: Error, CustomStringConvertible {
    /// nghttp2's error code (negative).
    public let code: Int32
    /// nghttp2's text for it.
    public let reason: String
    public var description: String { "\(reason) (nghttp2 \(code))" }

    /// `code` of a session ended for a flood (of frames without content, or of frames
    /// nghttp2 owes acknowledgements for).
    public static let floodCode: Int32 = -904
}
