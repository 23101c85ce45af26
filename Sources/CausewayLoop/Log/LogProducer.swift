/// One thread's way to log: formats and escapes lines into a reusable buffer and queues
/// them in a ring the sink's writer thread drains. Nothing here blocks on I/O; the only
/// syscall is an eventfd write when the writer may be asleep.
///
/// Not `Sendable`: one thread owns a producer (its ring has a single producer). Create it on
/// that thread with `LogSink.producer(name:)`; the counters can be read from any thread
/// through `LogSink.producerStats()`.
///
/// Which lines to rate-limit: every diagnostic line a peer can cause (a refused handshake,
/// a failed upstream, a protocol error) must pass a `LogKey`, so that a peer repeating the
/// event cannot flood the log. Lines the proxy causes itself (startup, configuration) need
/// none. Access-log lines are never rate-limited: they are the record of traffic.
public final class LogProducer {
    /// The name shown in diagnostic lines.
    public let name: String
    private let ring: LogRing
    private let registry: LogRegistry
    private var limiter: LogRateLimiter
    private let maxMessageBytes: Int
    /// `causeway[name]: `, escaped once.
    private let prefix: [UInt8]
    /// The line being built; its capacity is kept between lines.
    private var line: [UInt8] = []

    init(name: String, ring: LogRing, registry: LogRegistry, linesPerSecondPerKey: Int, maxMessageBytes: Int) {
        self.name = name
        self.ring = ring
        self.registry = registry
        limiter = LogRateLimiter(linesPerSecond: linesPerSecondPerKey)
        self.maxMessageBytes = maxMessageBytes
        var p = Array("causeway".utf8)
        if !name.isEmpty {
            p.append(UInt8(ascii: "["))
            LogEscaping.appendEscaped(name, to: &p, limit: 64)
            p.append(UInt8(ascii: "]"))
        }
        p.append(contentsOf: ": ".utf8)
        prefix = p
        line.reserveCapacity(512)
    }

    deinit {
        // The writer writes what is left, then forgets the ring.
        ring.retired.store(true, ordering: .releasing)
    }

    // MARK: Counters

    /// Lines dropped because the ring was full (diagnostic and access lines alike).
    public var droppedLines: UInt64 { ring.dropped.load(ordering: .relaxed) }
    /// Diagnostic lines refused by the rate limiter.
    public var suppressedLines: UInt64 { ring.suppressed.load(ordering: .relaxed) }

    // MARK: Diagnostic lines

    /// Queues `causeway[name]: message` with `message` escaped. Not rate-limited: use it
    /// only for lines no peer can cause.
    public func emit(_ message: String) {
        var text = message  // Shares storage; `withUTF8` needs a mutable value.
        text.withUTF8 { emitLine(UnsafeRawBufferPointer($0), suppressed: 0, key: nil) }
    }

    /// Queues `causeway[name]: message` unless lines under `key` exceeded the producer's
    /// rate this second. The message is only built when the line goes out. After
    /// suppressed lines, the next line under `key` ends in `(N similar lines suppressed)`.
    ///
    /// - Parameter now: monotonic nanoseconds; on a loop thread pass `loop.now`.
    public func emit(_ message: @autoclosure () -> String, limitedBy key: LogKey, now: UInt64 = LogClock.monotonicNanos()) {
        guard let suppressed = admit(key, now: now) else { return }
        var text = message()
        text.withUTF8 { emitLine(UnsafeRawBufferPointer($0), suppressed: suppressed, key: key) }
    }

    /// Queues a diagnostic line whose message is raw bytes (which need not be UTF-8; they
    /// are escaped like any message), rate-limited under `key` when one is given.
    public func emit(bytes message: UnsafeRawBufferPointer, limitedBy key: LogKey? = nil, now: UInt64 = LogClock.monotonicNanos()) {
        var suppressed: UInt64 = 0
        if let key {
            guard let count = admit(key, now: now) else { return }
            suppressed = count
        }
        emitLine(message, suppressed: suppressed, key: key)
    }

    // MARK: Access-log lines

    /// Queues `record` as one JSON line. Never rate-limited; dropped and counted when the
    /// ring is full.
    public func emitAccess(_ record: AccessLogRecord) {
        line.removeAll(keepingCapacity: true)
        AccessLogJSON.render(record, into: &line)
        _ = push()
    }

    // MARK: Internals

    private func admit(_ key: LogKey, now: UInt64) -> UInt64? {
        let result = limiter.admit(key, now: now)
        if result == nil { ring.countSuppressed() }
        return result
    }

    private func emitLine(_ message: UnsafeRawBufferPointer, suppressed: UInt64, key: LogKey?) {
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: prefix)
        LogEscaping.appendEscaped(message, to: &line, limit: maxMessageBytes)
        if suppressed > 0 {
            line.append(contentsOf: " (".utf8)
            LogDigits.appendDecimal(suppressed, to: &line)
            line.append(contentsOf: " similar lines suppressed)".utf8)
        }
        line.append(0x0A)
        if !push(), let key {
            // The line is lost; keep its count for the next line under the same key.
            limiter.restore(suppressed, for: key)
        }
    }

    /// Queues `line`, waking the writer if it may be asleep. Returns false if dropped.
    private func push() -> Bool {
        let result = line.withUnsafeBytes { ring.push($0) }
        switch result {
        case .dropped:
            return false
        case .queued(let consumerCaughtUp):
            if consumerCaughtUp { registry.wake() }
            return true
        }
    }
}
