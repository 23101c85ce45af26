/// How a message body is delimited (RFC 9112 §6).
public enum HTTP1Framing: Equatable, Sendable {
    /// No body at all (a request without content-length or transfer-encoding; a response to
    /// HEAD; 1xx, 204 and 304).
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(UInt64)
    /// `transfer-encoding: chunked`, possibly with trailers.
    case chunked
    /// Responses only: the body runs until the connection closes.
    case untilClose
}

/// Bounds a peer cannot push us past. Over them a request is refused with 431 (414 when the
/// request line alone does not fit); a response is refused with 502.
public struct HTTP1Limits: Sendable {
    /// Request or status line plus every field line and their CRLFs.
    public var maxHeaderBytes: Int
    /// Field lines in a head (and, separately, in a trailer section).
    public var maxHeaderCount: Int
    /// The trailer section after the last chunk, CRLFs included.
    public var maxTrailerBytes: Int
    /// Bytes of chunk extensions on one chunk-size line (they carry nothing we use).
    public var maxChunkExtensionBytes: Int

    public init(maxHeaderBytes: Int = 65536, maxHeaderCount: Int = 100, maxTrailerBytes: Int = 65536,
                maxChunkExtensionBytes: Int = 4096) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxTrailerBytes = maxTrailerBytes
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
    }
}

/// Why a message was refused. `status` is what a server answers (400, 413, 414, 417, 431,
/// 501, 505) for a request; for a response from upstream it is always 502 (what the proxy
/// answers its own client). After an error the parser that threw is unusable.
public struct HTTP1ParseError: Error, Equatable, Sendable {
    public var status: Int
    /// Short and kebab-case, e.g. "content-length-and-chunked", "obs-fold", "bare-cr".
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// What a parser reports, in wire order, through its `parse` sink.
public enum HTTP1Event<Head> {
    case head(Head)
    /// Body bytes: a slice of the input passed to `parse` (valid only during the callback).
    case body(UnsafeRawBufferPointer)
    /// The message ended; trailers (chunked only, nil when there were none) as a HeaderBlock
    /// without pseudo-fields.
    case end(trailers: HeaderBlock?)
}

/// Which kind of message a shared piece of the codec is working on: it decides the status
/// of errors (a bad request is the client's fault, a bad response is a bad gateway).
enum HTTP1Side {
    case request
    case response

    /// An error with `status` for a request, 502 for a response.
    @inline(__always)
    func error(_ status: Int, _ reason: StaticString) -> HTTP1ParseError {
        HTTP1ParseError(status: self == .request ? status : 502, reason: reason.description)
    }
}
