import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// Where a worker's mirror subscriptions report: the control thread, which keeps the
/// mirrors and builds routing snapshots from them. Called on the worker's thread; an
/// implementation hands the event over (a mailbox post) and returns.
public protocol MirrorEventSink: Sendable {
    /// A decoded message arrived on attempt `attempt` of `cluster`'s stream.
    func mirrorReceived(cluster: String, message: MirrorMessage, attempt: Int)
    /// Attempt `attempt` of `cluster`'s stream ended or failed; another follows after a backoff.
    func mirrorStreamLost(cluster: String, reason: String, attempt: Int)
}

/// subscribe: keeps one export stream open to a linked cluster's gateway, over the same
/// pooled mTLS HTTP/2 connections requests to that cluster use, and reports each message.
///
/// The subscription is the downstream side of its stream (`RelayDownstream`): the relay
/// delivers the response to it like to a client, and it takes every byte at once (the
/// stream's window goes back as it arrives). A stream that ends, fails, sends a malformed
/// line or stays silent for three heartbeats is dropped and reopened after a backoff that
/// doubles from `MirrorSettings.reconnectMinNanos` to `reconnectMaxNanos`, with jitter,
/// rotating over the link's gateways.
///
/// Loop-bound, owned by worker 0's `MirrorSubscriptions`.
final class MirrorSubscription: RelayDownstream {
    /// Longest line accepted from a gateway (a snapshot of every export).
    static let maxLineBytes = 8 << 20

    enum Lifecycle {
        /// A stream is open or being opened: attempt number, its stream, when it was opened.
        case streaming(attempt: Int, stream: ProxyStream)
        /// Waiting to reconnect.
        case waiting(timer: TimerID)
        /// Stopped (link removed, worker shutting down).
        case stopped
    }

    let link: MeshComposer.Link
    unowned(unsafe) let worker: Worker
    private let sink: any MirrorEventSink
    private var lifecycle = Lifecycle.stopped
    /// Hands out attempt numbers (one sequence per worker).
    private let nextAttempt: () -> Int
    private var failuresInARow = 0
    private var splitter = LineSplitter(maxLineBytes: maxLineBytes)
    /// When the current stream last delivered bytes (monotonic ns).
    private var lastHeard: UInt64 = 0
    /// Heartbeat interval the gateway announced; the silence limit is three of them.
    private var heartbeatNanos: UInt64 = 0
    private var watchdog: TimerID?
    private var random: SplitMix64

    init(link: MeshComposer.Link, worker: Worker, sink: any MirrorEventSink, nextAttempt: @escaping () -> Int) {
        self.link = link
        self.worker = worker
        self.sink = sink
        self.nextAttempt = nextAttempt
        self.random = SplitMix64(seed: worker.loop.now ^ UInt64(truncatingIfNeeded: link.cluster.hashValue))
    }

    // MARK: RelayDownstream

    var role: TrafficRole { .sidecar }
    var forwardedClientCert: [UInt8] { [] }
    var isClosed: Bool {
        if case .stopped = lifecycle { return true }
        return false
    }

    func respond(_ stream: ProxyStream, headers: HeaderBlock, endStream: Bool, status: Int) {
        guard isCurrent(stream) else { return }
        guard status == 200, !endStream else {
            end(stream, reason: "the gateway answered \(status) to the export stream request")
            return
        }
        stream.state = .responding
        // The relay queues body bytes on this; the subscription takes them at once instead.
        stream.responseBody = H2OutboundBody()
    }

    func sendResponseBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) -> Bool {
        guard case .streaming(let attempt, let stream) = lifecycle, stream.responseBody === body else { return false }
        lastHeard = worker.loop.now
        // Taken at once: the stream's window goes back now.
        if let connection = stream.responseCreditConnection, !connection.isClosed {
            connection.returnResponseCredit(stream, count: bytes.count)
        }
        do {
            try splitter.feed(bytes) { line in
                let message = try MirrorWire.decode(line)
                switch message {
                case .snapshot(let snapshot):
                    heartbeatNanos = UInt64(snapshot.heartbeatMillis) * 1_000_000
                    armWatchdog()
                case .heartbeat:
                    // The stream stayed up a heartbeat interval: reconnects start fast again.
                    failuresInARow = 0
                case .update:
                    break
                }
                sink.mirrorReceived(cluster: link.cluster, message: message, attempt: attempt)
            }
        } catch {
            let reason = error is LineSplitter.LineTooLong ? "a line longer than \(Self.maxLineBytes) bytes" : "\(error)"
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
            end(stream, reason: "malformed export stream: \(reason)")
        }
        // Never queued on `body`: no relay accounting to do.
        return true
    }

    func finishResponse(_ body: H2OutboundBody, trailers: HeaderBlock?) {
        guard case .streaming(_, let stream) = lifecycle, stream.responseBody === body else { return }
        end(stream, reason: "the gateway ended the export stream")
    }

    func responseBytesLeft(_ count: Int) {}
    func returnRequestCredit(_ stream: ProxyStream, count: Int) {}

    func fail(_ stream: ProxyStream, _ failure: ProxyFailure) {
        guard isCurrent(stream) else { return }
        end(stream, reason: failure.message)
    }

    func reset(_ stream: ProxyStream, errorCode: UInt32) {
        guard isCurrent(stream) else { return }
        end(stream, reason: "the export stream was reset (error \(errorCode))")
    }

    // MARK: Lifecycle

    /// Opens the first stream.
    func start() {
        guard case .stopped = lifecycle else { return }
        connect()
    }

    /// Drops stream `attempt` if it is still the current one and opens another after the
    /// usual backoff (the control thread found a message that does not follow: a fresh
    /// snapshot resynchronises; the backoff keeps a gateway that is always rejected from
    /// turning this into a hot loop).
    func resync(attempt: Int) {
        guard case .streaming(let current, let stream) = lifecycle, current == attempt else { return }
        end(stream, reason: "resynchronising")
    }

    /// Stops for good (link removed, shutdown).
    func stop() {
        switch lifecycle {
        case .streaming(let attempt, let stream):
            lifecycle = .stopped
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
            // The mirror's lease starts running: nothing feeds it any more.
            sink.mirrorStreamLost(cluster: link.cluster, reason: "subscription stopped", attempt: attempt)
        case .waiting(let timer):
            worker.loop.cancel(timer)
        case .stopped:
            break
        }
        lifecycle = .stopped
        if let watchdog { worker.loop.cancel(watchdog) }
        watchdog = nil
    }

    private func isCurrent(_ stream: ProxyStream) -> Bool {
        if case .streaming(_, let current) = lifecycle { return current === stream }
        return false
    }

    private func connect() {
        let attempt = nextAttempt()
        guard !link.gateways.isEmpty else { return }
        let endpoint = link.gateways[(attempt - 1) % link.gateways.count]
        let stream = ProxyStream(downstream: self, downstreamID: Int32(truncatingIfNeeded: attempt), requestEnded: true,
                                 now: worker.loop.now)
        lifecycle = .streaming(attempt: attempt, stream: stream)
        splitter = LineSplitter(maxLineBytes: Self.maxLineBytes)
        // Until the gateway announces its interval, our own bounds the wait for the snapshot
        // (a gateway that accepts the stream and sends nothing is dropped like a silent one).
        heartbeatNanos = worker.settings.mirror.heartbeatNanos
        lastHeard = worker.loop.now
        armWatchdog()
        worker.metrics.increment(.mirrorStreamsStarted)
        var headers = HeaderBlock()
        headers.append(name: ":method", value: "GET")
        headers.append(name: ":scheme", value: "https")
        headers.append(name: ":authority", value: endpoint.description)
        headers.append(name: ":path", value: MirrorWire.path)
        headers.append(name: "accept", value: MirrorWire.contentType)
        worker.forwarder.subscribe(stream, headers: headers, endpoint: endpoint, identity: link.identity)
    }

    /// The current stream is over: report, then reconnect (after a backoff unless told not to).
    private func end(_ stream: ProxyStream, reason: String, backoff: Bool = true) {
        guard case .streaming(let attempt, _) = lifecycle else { return }
        // Whatever ended it, the upstream stream goes too (idempotent): nothing may keep a
        // reference to this subscription once it is stopped.
        Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
        stream.state = .done
        if let watchdog { worker.loop.cancel(watchdog) }
        watchdog = nil
        worker.metrics.increment(.mirrorStreamFailures)
        worker.log("export stream from \(link.cluster): \(reason)", limitedBy: "mirror-stream")
        sink.mirrorStreamLost(cluster: link.cluster, reason: reason, attempt: attempt)
        let delay = backoff ? nextDelay() : 0
        failuresInARow += 1
        let timer = worker.loop.schedule(after: delay) { [self] in
            guard case .waiting = lifecycle else { return }
            connect()
        }
        lifecycle = .waiting(timer: timer)
    }

    /// Backoff before the next connect: min × 2^failures, capped, then 50–100% of it.
    private func nextDelay() -> UInt64 {
        let settings = worker.settings.mirror
        let shift = min(failuresInARow, 16)
        let full = min(settings.reconnectMaxNanos, settings.reconnectMinNanos << UInt64(shift))
        return full / 2 + random.next() % (full / 2 + 1)
    }

    /// Drops a stream that stays silent for three heartbeats.
    private func armWatchdog() {
        if let watchdog { worker.loop.cancel(watchdog) }
        guard heartbeatNanos > 0 else { return }
        watchdog = worker.loop.schedule(after: heartbeatNanos) { [self] in
            watchdog = nil
            guard case .streaming(_, let stream) = lifecycle else { return }
            if worker.loop.now &- lastHeard > 3 * heartbeatNanos {
                Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
                end(stream, reason: "no message for \(3 * heartbeatNanos / 1_000_000) ms (three heartbeats)")
            } else {
                armWatchdog()
            }
        }
    }
}
