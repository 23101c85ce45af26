import CausewayLoop

/// What the first bytes of a plaintext connection say its client speaks.
enum SniffedProtocol: Equatable, Sendable {
    /// The HTTP/2 connection preface (h2c with prior knowledge).
    case http2
    /// An HTTP/1.x request line.
    case http1
    /// Neither: served as HTTP/2, which answers GOAWAY(PROTOCOL_ERROR) (RFC 9113 §3.4).
    case unknown
}

/// Classifies the start of a connection; pure, so it is tested without sockets.
///
/// Incremental: a connection's classifier is fed everything its client sent so far, each
/// time with more bytes at the end, and resumes where the previous call stopped, so each
/// byte is looked at a bounded number of times however the input is split (a client
/// sending one byte per segment costs linear work, not a rescan of the buffer per read).
/// The verdict depends only on the bytes, never on how they were split.
struct ProtocolClassifier {
    /// What the bytes so far allow to say.
    enum Verdict: Equatable {
        /// Not enough bytes yet (a prefix of the preface, or of a request line).
        case wait
        case decided(SniffedProtocol)
    }

    /// Longest method token looked at before giving up on a request line.
    static let maxMethodLength = 32

    /// Bytes compared or scanned over all calls so far: at most a few per input byte.
    private(set) var bytesExamined = 0
    /// Bytes known to match the HTTP/2 preface; -1 once they do not.
    private var prefaceMatched = 0
    /// Bytes of the method token seen so far; -1 once the token and its space were seen.
    private var methodLength = 0
    /// Where the search for the request line's LF resumes (valid once the method was seen).
    private var lineScanned = 0

    init() {}

    /// Classifies `bytes`, everything the client sent so far (a previous call's bytes plus
    /// what arrived since):
    /// - a prefix of the HTTP/2 preface → wait; the whole preface → `.http2`;
    /// - a method token, a space and a first line ending in ` HTTP/1.<digit>` → `.http1`
    ///   (a line still arriving waits, up to `lineLimit` bytes; past that it is HTTP/1 too,
    ///   and its parser refuses it with a readable status);
    /// - anything else → `.unknown`.
    /// The line end is found at LF: a request line ending in a bare LF is still HTTP/1, and
    /// its parser answers 400 rather than the client getting an HTTP/2 frame.
    mutating func classify(_ bytes: UnsafeRawBufferPointer, lineLimit: Int) -> Verdict {
        if prefaceMatched >= 0 {
            let preface = HTTP2Preface.bytes
            let compared = min(bytes.count, preface.count)
            while prefaceMatched < compared {
                bytesExamined += 1
                if bytes[prefaceMatched] != preface[prefaceMatched] { break }
                prefaceMatched += 1
            }
            if prefaceMatched == compared {
                return bytes.count >= preface.count ? .decided(.http2) : .wait
            }
            prefaceMatched = -1
        }

        if methodLength >= 0 {
            while methodLength < bytes.count, methodLength < Self.maxMethodLength, HTTP1Token.isTChar(bytes[methodLength]) {
                bytesExamined += 1
                methodLength += 1
            }
            if methodLength == bytes.count { return .wait }
            bytesExamined += 1
            guard methodLength > 0, bytes[methodLength] == 0x20 else { return .decided(.unknown) }
            lineScanned = methodLength
            methodLength = -1
        }

        var end = lineScanned
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        bytesExamined += end - lineScanned
        lineScanned = end
        guard end < bytes.count else { return bytes.count >= lineLimit ? .decided(.http1) : .wait }
        if end > 0 && bytes[end - 1] == 0x0D { end -= 1 }
        bytesExamined += 10
        return Self.endsWithHTTP1Version(bytes, end: end) ? .decided(.http1) : .decided(.unknown)
    }

    /// Classifies `bytes` from scratch (a fresh classifier).
    static func classify(_ bytes: UnsafeRawBufferPointer, lineLimit: Int) -> Verdict {
        var classifier = ProtocolClassifier()
        return classifier.classify(bytes, lineLimit: lineLimit)
    }

    /// True when `bytes[..<end]` ends with ` HTTP/1.` and a digit.
    private static func endsWithHTTP1Version(_ bytes: UnsafeRawBufferPointer, end: Int) -> Bool {
        let marker: StaticString = " HTTP/1."
        let n = marker.utf8CodeUnitCount
        guard end >= n + 1, bytes[end - 1] >= 0x30, bytes[end - 1] <= 0x39 else { return false }
        let start = end - 1 - n
        for k in 0..<n where bytes[start + k] != marker.utf8Start[k] { return false }
        return true
    }
}

/// RFC 9110 `tchar`: the bytes a method token (or field name) may hold.
enum HTTP1Token {
    static func isTChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }
}

/// accept-time classification on a plaintext sidecar listener: holds a new connection until
/// its first bytes say what it speaks, then hands the socket and those bytes to the worker
/// (`Worker.startDownstream`), which serves it as HTTP/2 or HTTP/1.1 from then on. Costs a
/// connection one object and two `epoll_ctl` calls; nothing per request.
///
/// A connection that does not make up its mind within `timeouts.requestHeaders` of the
/// accept (silent, or a request line still arriving) is closed by the worker's sweep and
/// counted as a request header timeout.
///
/// A connection traffic capture redirected to a mesh address (`captured`) is judged sooner
/// and never closed for being something else: when it has not spoken HTTP within
/// `capture.sniffTimeout` (silent: a server-speaks-first protocol; or undecided), when its
/// first bytes are neither HTTP/2 nor HTTP/1, or when it ends its stream before deciding,
/// it is passed through unchanged to its original destination with the bytes read so far
/// (`Worker.captureFallback`). Loop-bound.
final class ProtocolSniffer: LoopHandler {
    /// The worker that owns this connection (and outlives it).
    unowned(unsafe) let worker: Worker
    /// The socket; -1 once handed over or closed.
    private(set) var fd: Int32
    let listener: ListenerSpec
    /// When the connection was accepted (monotonic ns).
    let acceptedAt: UInt64
    /// Everything read so far (empty until the client sends more than one read's worth
    /// without deciding, which a real client never does).
    private var buffered: [UInt8] = []
    /// Where a captured connection was going; nil when it was not captured.
    let captured: CapturedDestination?
    /// Fires `capture.sniffTimeout` after the accept (captured connections only).
    private var deadline: TimerID?
    /// Where classifying the bytes read so far stopped (each read resumes from there).
    private var classifier = ProtocolClassifier()

    init(worker: Worker, fd: Int32, listener: ListenerSpec, captured: CapturedDestination? = nil) {
        self.worker = worker
        self.fd = fd
        self.listener = listener
        self.captured = captured
        acceptedAt = worker.loop.now
    }

    /// True once handed over or closed.
    var isDone: Bool { fd < 0 }

    /// Starts watching the socket.
    func start() throws(SystemError) {
        try worker.loop.register(fd, handler: self, interest: .read)
        guard captured != nil else { return }
        // One timer per captured connection, cancelled as soon as it decides.
        deadline = worker.loop.schedule(after: worker.settings.capture.sniffTimeoutNanos) { [self] in
            deadline = nil
            guard fd >= 0 else { return }
            buffered.withUnsafeBytes { fallBack($0, timedOut: true) }
        }
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        let buffer = worker.context.readBuffer
        // A few reads at most: a client that is still undecided after that waits for the
        // next readiness like any other.
        for _ in 0..<4 where fd >= 0 {
            switch Syscall.read(fd, into: buffer) {
            case .bytes(0):
                // A captured client that sent something and ended its stream is still owed
                // its destination's answer.
                if captured != nil && !buffered.isEmpty {
                    buffered.withUnsafeBytes { fallBack($0, timedOut: false) }
                    return
                }
                close(reason: "client closed before sending a request")
                return
            case .bytes(let n):
                worker.metrics.increment(.downstreamBytesReceived, by: Int64(n))
                let read = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if buffered.isEmpty {
                    decide(read)
                } else {
                    buffered.append(contentsOf: read)
                    buffered.withUnsafeBytes { decide($0) }
                }
                if fd >= 0 && buffered.isEmpty { buffered.append(contentsOf: read) }
            case .wouldBlock:
                return
            case .failed(let code):
                close(reason: SystemError("read", code: code).description)
                return
            }
        }
    }

    /// Hands the connection over if `bytes` (everything read so far) decide it.
    private func decide(_ bytes: UnsafeRawBufferPointer) {
        let lineLimit = Int(worker.settings.downstreamHTTP2.maxHeaderListSize)
        guard case .decided(let proto) = classifier.classify(bytes, lineLimit: lineLimit) else { return }
        if proto == .unknown && captured != nil { return fallBack(bytes, timedOut: false) }
        let initial = Array(bytes)
        let socket = fd
        worker.loop.deregister(socket)
        fd = -1
        buffered = []
        cancelDeadline()
        worker.sniffed(self, fd: socket, proto: proto, initial: initial)
    }

    /// A captured connection that is not HTTP: handed to the worker, which passes it through
    /// with `initial` (everything read so far) or closes it (a virtual IP).
    private func fallBack(_ initial: UnsafeRawBufferPointer, timedOut: Bool) {
        guard let captured, fd >= 0 else { return }
        let socket = fd
        worker.loop.deregister(socket)
        fd = -1
        cancelDeadline()
        // `initial` may be `buffered`'s storage: copied by the relay, and freed with this
        // sniffer, never cleared while borrowed.
        worker.captureFallback(fd: socket, captured: captured, initial: initial, timedOut: timedOut)
        worker.snifferClosed(self)
    }

    private func cancelDeadline() {
        if let t = deadline { worker.loop.cancel(t) }
        deadline = nil
    }

    func loopFlush() {}

    /// The worker's once-a-second check; true when it closed the connection.
    func sweep(now: UInt64) -> Bool {
        guard fd >= 0, now &- acceptedAt > worker.settings.timeouts.requestHeadersNanos else { return false }
        worker.metrics.increment(.requestHeaderTimeouts)
        close(reason: "no request within the request headers timeout")
        return true
    }

    /// Closes the socket (drain, shutdown, timeout, EOF). Idempotent.
    func close(reason: String) {
        guard fd >= 0 else { return }
        worker.loop.deregister(fd)
        Syscall.close(fd)
        fd = -1
        buffered = []
        cancelDeadline()
        worker.snifferClosed(self)
    }
}
