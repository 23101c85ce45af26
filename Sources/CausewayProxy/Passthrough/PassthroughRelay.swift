#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// A captured connection relayed unchanged to its original destination: plain TCP, bytes
/// as they come (TLS included: nothing is parsed), on the worker's loop.
///
/// - One `RingBuffer` per direction, the only copy: bytes are read from one socket into it
///   and written from it to the other. A full ring stops reads from its source until its
///   sink takes bytes (backpressure both ways, at most `bufferCapacity` held per direction).
/// - The bytes a sniffer already read go first (they start the client-to-destination ring).
/// - Half-close is propagated: when one side ends its stream and everything it sent was
///   delivered, the other gets `shutdown(SHUT_WR)`; the relay closes once both directions
///   ended. A read or write error resets both sides (`SO_LINGER` 0), so each peer sees what
///   a direct connection would have shown it.
/// - The connect to the destination carries the outbound mark (`Sockets.connect`) and has
///   `upstream.connectTimeout`; a failed connect resets the client. The worker's sweep
///   closes relays idle (no byte either way) for `capture.passthroughIdleTimeout`
///   (1 h by default; not `timeouts.idle`, which is for the proxy's own clients).
/// - A socket that reports hang-up while the relay cannot read it (its ring is full, or it
///   already ended) is "parked": taken off the loop so a level-triggered hang-up does not
///   spin, and put back when there is room to read again.
///
/// Loop-bound; not thread-safe.
final class PassthroughRelay {
    /// The relay's life.
    enum Phase: Equatable {
        /// Connecting to the destination; client bytes wait in the ring.
        case connecting
        /// Both sockets are up.
        case relaying
        /// Both sockets are closed.
        case closed
    }

    /// A direction of the relay.
    private enum Direction {
        /// Client to original destination.
        case outbound
        /// Original destination to client.
        case inbound
    }

    /// Bytes held per direction, at most: one default TCP receive window's worth, which keeps
    /// a bulk transfer moving while bounding what a slow peer can make us hold.
    static let bufferCapacity = 64 * 1024

    /// The worker that owns this relay (and outlives it).
    unowned(unsafe) let worker: Worker
    /// Where the client meant to go.
    let destination: SocketAddress
    private(set) var phase = Phase.connecting
    /// When a byte last moved either way, or the relay started (monotonic ns).
    private(set) var lastActivity: UInt64
    private var client: PassthroughEnd!
    private var server: PassthroughEnd!
    private var outbound: RingBuffer
    private var inbound: RingBuffer
    private var connectTimer: TimerID?

    /// - Parameters:
    ///   - clientFD: the accepted connection; the relay owns it from now on.
    ///   - initial: bytes already read from it, sent first.
    init(worker: Worker, clientFD: Int32, destination: SocketAddress, initial: UnsafeRawBufferPointer) {
        self.worker = worker
        self.destination = destination
        lastActivity = worker.loop.now
        outbound = RingBuffer(capacity: max(Self.bufferCapacity, initial.count))
        inbound = RingBuffer(capacity: Self.bufferCapacity)
        if !initial.isEmpty { outbound.append(initial) }
        client = PassthroughEnd(relay: self, side: .client, fd: clientFD)
        worker.metrics.increment(.passthroughConnectionsActive)
        worker.metrics.increment(.passthroughConnectionsTotal)
    }

    /// Starts the connect to the destination and watching both sockets. On failure the
    /// relay is closed (and the worker told) before this returns.
    func start(connectTimeoutNanos: UInt64) {
        let fd: Int32
        do {
            fd = try Sockets.connect(to: destination)
        } catch {
            return connectFailed(error.description)
        }
        server = PassthroughEnd(relay: self, side: .destination, fd: fd)
        connectTimer = worker.loop.schedule(after: connectTimeoutNanos) { [self] in
            connectTimer = nil
            if phase == .connecting { connectFailed("connect \(destination): timed out") }
        }
        settle()
    }

    // MARK: Events

    /// Readiness of one of the two sockets.
    func event(on end: PassthroughEnd, readable: Bool, writable: Bool, hangup: Bool) {
        guard phase != .closed else { return }
        if end === server, phase == .connecting {
            guard writable || hangup else { return }
            let error = Sockets.pendingError(end.fd)
            guard error == 0 else { return connectFailed(SystemError("connect \(destination)", code: error).description) }
            phase = .relaying
            if let t = connectTimer { worker.loop.cancel(t) }
            connectTimer = nil
        } else if hangup {
            let error = Sockets.pendingError(end.fd)
            if error != 0 { return abort(SystemError("\(end.side)", code: error).description) }
        }
        if writable {
            end.writeBlocked = false
            guard write(into: end === server ? .outbound : .inbound) else { return }
        }
        if readable || hangup {
            guard read(from: end === client ? .outbound : .inbound) else { return }
        }
        if hangup, phase != .closed, !wantsRead(end) { park(end) }
        settle()
    }

    /// Reads what `direction`'s source has, while its ring has room (a bounded number of
    /// reads, so one busy relay cannot starve the loop), passing it on as it comes. False
    /// when the relay was closed.
    private func read(from direction: Direction) -> Bool {
        let source = self.source(direction)
        for _ in 0..<4 {
            guard !source.readFinished, !held(direction).isFull else { break }
            let result = ring(direction) { $0.read(from: source.fd) }
            switch result {
            case .bytes(0):
                source.readFinished = true
            case .bytes:
                lastActivity = worker.loop.now
            case .wouldBlock:
                return write(into: direction)
            case .failed(let code):
                abort(SystemError("read from \(source.side)", code: code).description)
                return false
            }
            guard write(into: direction) else { return false }
        }
        return true
    }

    /// Writes what `direction`'s ring holds to its sink, if connected and not blocked.
    /// False when the relay was closed.
    private func write(into direction: Direction) -> Bool {
        let sink = self.sink(direction)
        guard phase == .relaying, !sink.writeBlocked, !sink.writeFinished else { return true }
        while !held(direction).isEmpty {
            let before = held(direction).count
            let result = ring(direction) { $0.write(to: sink.fd) }
            switch result {
            case .bytes(let n):
                lastActivity = worker.loop.now
                worker.metrics.increment(direction == .outbound ? .passthroughBytesSent : .passthroughBytesReceived, by: Int64(n))
                // A short write means the socket buffer is full: asking again would only EAGAIN.
                if n < before { sink.writeBlocked = true; return true }
            case .wouldBlock:
                sink.writeBlocked = true
                return true
            case .failed(let code):
                abort(SystemError("write to \(sink.side)", code: code).description)
                return false
            }
        }
        return true
    }

    // MARK: State

    /// After any change: propagates half-closes, closes a finished relay, and sets what
    /// each socket is watched for.
    private func settle() {
        guard phase != .closed else { return }
        if phase == .relaying {
            passEndOfStream(.outbound)
            passEndOfStream(.inbound)
            if client.readFinished, server.readFinished, client.writeFinished, server.writeFinished {
                return close(reason: "both sides finished")
            }
        }
        updateInterest(client)
        // Registering the client can fail and close the relay (both descriptors -1): the
        // destination is not registered then.
        guard phase != .closed, server != nil else { return }
        updateInterest(server)
    }

    /// When `direction`'s source ended and everything it sent was delivered, its sink gets
    /// our FIN (`SHUT_WR`): the other direction stays open.
    private func passEndOfStream(_ direction: Direction) {
        let (source, sink) = (self.source(direction), self.sink(direction))
        guard source.readFinished, !sink.writeFinished, held(direction).isEmpty else { return }
        _ = Glibc.shutdown(sink.fd, Int32(SHUT_WR))
        sink.writeFinished = true
    }

    private func wantsRead(_ end: PassthroughEnd) -> Bool {
        guard !end.readFinished else { return false }
        if end === server && phase == .connecting { return false }
        return end === client ? !outbound.isFull : !inbound.isFull
    }

    private func updateInterest(_ end: PassthroughEnd) {
        guard end.fd >= 0 else { return }
        var interest: Interest = wantsRead(end) ? .read : []
        if end === server && phase == .connecting || end.writeBlocked { interest.insert(.write) }
        if end.parked {
            // Back only to read: a hang-up (no error) means we shut down writing to it.
            guard interest.contains(.read) else { return }
            end.parked = false
        }
        guard end.registered else {
            do {
                try worker.loop.register(end.fd, handler: end, interest: interest)
            } catch {
                return abort(error.description)
            }
            end.registered = true
            end.interest = interest
            return
        }
        if interest != end.interest {
            end.interest = interest
            worker.loop.modify(end.fd, interest: interest)
        }
    }

    /// Takes `end` off the loop until it can be read again: a hang-up is reported on every
    /// loop pass whatever the interest, and there is nothing to do about it until then.
    private func park(_ end: PassthroughEnd) {
        guard end.registered else { return }
        worker.loop.deregister(end.fd)
        end.registered = false
        end.parked = true
    }

    private func source(_ direction: Direction) -> PassthroughEnd { direction == .outbound ? client : server }
    private func sink(_ direction: Direction) -> PassthroughEnd { direction == .outbound ? server : client }

    /// What `direction`'s ring holds (its counts, not its bytes).
    private func held(_ direction: Direction) -> (isEmpty: Bool, isFull: Bool, count: Int) {
        let r = direction == .outbound ? outbound : inbound
        return (r.isEmpty, r.isFull, r.count)
    }

    private func ring<R>(_ direction: Direction, _ body: (inout RingBuffer) -> R) -> R {
        switch direction {
        case .outbound: body(&outbound)
        case .inbound: body(&inbound)
        }
    }

    // MARK: Ending

    private func connectFailed(_ reason: String) {
        worker.metrics.increment(.passthroughConnectFailures)
        worker.log("passthrough to \(destination): \(reason)", limitedBy: "passthrough-connect")
        abort(reason)
    }

    /// Closes after no byte moved for `idleNanos` (`spec.capture.passthroughIdleTimeout`);
    /// 0: never.
    func sweep(now: UInt64, idleNanos: UInt64) {
        guard phase != .closed, idleNanos > 0, now &- lastActivity > idleNanos else { return }
        worker.metrics.increment(.passthroughIdleCloses)
        close(reason: "idle for \(idleNanos / 1_000_000_000) s")
    }

    /// Ends both connections with a reset: something failed, and a peer must not take a
    /// cut-short stream for a complete one.
    func abort(_ reason: String) {
        guard phase != .closed else { return }
        for end in [client, server] {
            guard let end, end.fd >= 0 else { continue }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(end.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        close(reason: reason)
    }

    /// Closes both sockets and frees the rings. Idempotent.
    func close(reason: String) {
        guard phase != .closed else { return }
        phase = .closed
        if let t = connectTimer { worker.loop.cancel(t) }
        connectTimer = nil
        for end in [client, server] {
            guard let end, end.fd >= 0 else { continue }
            if end.registered { worker.loop.deregister(end.fd) }
            end.registered = false
            Syscall.close(end.fd)
            end.fd = -1
        }
        outbound.deallocate()
        inbound.deallocate()
        worker.metrics.increment(.passthroughConnectionsActive, by: -1)
        worker.passthroughClosed(self)
    }
}
