#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// Something registered with a loop for readiness events on one file descriptor.
public protocol LoopHandler: AnyObject {
    /// Readiness reported by epoll for the handler's descriptor.
    func loopEvent(readable: Bool, writable: Bool, hangup: Bool)
    /// Called once at the end of a loop pass after `EventLoop.scheduleFlush(_:)`, so all
    /// output produced during the pass goes out in one write.
    func loopFlush()
}

/// Which readiness a handler wants.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `EPOLLIN`.
    public static let read = Interest(rawValue: 1)
    /// `EPOLLOUT`: arm only after a write returned `EAGAIN`.
    public static let write = Interest(rawValue: 2)
}

/// An epoll reactor owned by one thread.
///
/// Everything except `mailbox` must be used on the loop's own thread. Each pass waits for
/// readiness, dispatches events, runs due timers and mailbox messages, then calls
/// `loopFlush()` on every handler that asked for it.
public final class EventLoop {
    private struct Slot {
        var handler: LoopHandler?
        var generation: UInt32
    }

    private let epollFD: Int32
    private let timerFD: Int32
    /// Posts work to this loop from any thread.
    public let mailbox: Mailbox
    private var slots: [Slot] = []
    private var timers = TimerHeap()
    private var armedDeadline: UInt64 = 0
    private var flushQueue: [LoopHandler] = []
    private var stopping = false
    /// Monotonic time in nanoseconds, read once per pass.
    public private(set) var now: UInt64
    /// Per-loop state of the layer above (a worker), reachable from mailbox messages.
    public var context: AnyObject?

    private static let timerToken: UInt64 = UInt64.max
    private static let mailboxToken: UInt64 = UInt64.max - 1

    /// Creates a loop with its epoll, timerfd and eventfd.
    public convenience init() throws(SystemError) {
        try self.init(mailbox: Mailbox())
    }

    /// Creates a loop that serves an existing mailbox (created before the loop's thread).
    public init(mailbox: Mailbox) throws(SystemError) {
        self.mailbox = mailbox
        epollFD = try Syscall.check("epoll_create1", causeway_epoll_create())
        do {
            timerFD = try Syscall.check("timerfd_create", causeway_timerfd_create())
        } catch {
            Syscall.close(epollFD)
            throw error
        }
        now = causeway_monotonic_ns()
        _ = causeway_epoll_ctl(epollFD, causeway_EPOLL_CTL_ADD, timerFD, causeway_EPOLLIN, Self.timerToken)
        _ = causeway_epoll_ctl(epollFD, causeway_EPOLL_CTL_ADD, mailbox.eventFD, causeway_EPOLLIN, Self.mailboxToken)
    }

    deinit {
        Syscall.close(timerFD)
        Syscall.close(epollFD)
    }

    // MARK: Registration

    /// Starts delivering readiness of `fd` to `handler`. A negative `fd` (a descriptor
    /// already closed, by convention -1) is refused with `EBADF` rather than registered.
    public func register(_ fd: Int32, handler: LoopHandler, interest: Interest) throws(SystemError) {
        guard fd >= 0 else { throw SystemError("epoll_ctl(ADD) of descriptor \(fd)", code: EBADF) }
        let index = Int(fd)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(handler: nil, generation: 0), count: index + 1 - slots.count))
        }
        slots[index].generation &+= 1
        slots[index].handler = handler
        let rc = causeway_epoll_ctl(epollFD, causeway_EPOLL_CTL_ADD, fd, Self.mask(interest), token(fd))
        if rc < 0 {
            slots[index].handler = nil
            throw SystemError("epoll_ctl(ADD)", code: causeway_errno())
        }
    }

    /// Changes the readiness `fd` is watched for. Nothing for a descriptor never registered.
    public func modify(_ fd: Int32, interest: Interest) {
        guard fd >= 0, Int(fd) < slots.count else { return }
        _ = causeway_epoll_ctl(epollFD, causeway_EPOLL_CTL_MOD, fd, Self.mask(interest), token(fd))
    }

    /// Stops watching `fd`. Call before closing it; pending events for it in the current
    /// pass are dropped.
    public func deregister(_ fd: Int32) {
        guard fd >= 0 else { return }
        _ = causeway_epoll_ctl(epollFD, causeway_EPOLL_CTL_DEL, fd, 0, 0)
        let index = Int(fd)
        if index < slots.count {
            slots[index].handler = nil
            slots[index].generation &+= 1
        }
    }

    private func token(_ fd: Int32) -> UInt64 {
        UInt64(slots[Int(fd)].generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    private static func mask(_ interest: Interest) -> UInt32 {
        // RDHUP only with reads: once a connection stops reading (its peer half-closed, or
        // backpressure), a level-triggered RDHUP would report the same FIN on every pass.
        var m: UInt32 = 0
        if interest.contains(.read) { m |= causeway_EPOLLIN | causeway_EPOLLRDHUP }
        if interest.contains(.write) { m |= causeway_EPOLLOUT }
        return m
    }

    // MARK: Work scheduling

    /// Asks for `handler.loopFlush()` at the end of this pass. The handler keeps its own
    /// "already scheduled" flag so that it is queued at most once per pass.
    public func scheduleFlush(_ handler: LoopHandler) {
        flushQueue.append(handler)
    }

    /// Runs `callback` on this loop at or after `deadline` (monotonic ns).
    @discardableResult
    public func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        let id = timers.schedule(at: deadline, callback)
        // Re-arm the timerfd only for an earlier deadline.
        if armedDeadline == 0 || deadline < armedDeadline { arm(deadline) }
        return id
    }

    /// Runs `callback` after `nanoseconds` from the start of this pass.
    @discardableResult
    public func schedule(after nanoseconds: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        schedule(at: now &+ nanoseconds, callback)
    }

    /// Cancels a timer that has not fired yet.
    public func cancel(_ id: TimerID) {
        timers.cancel(id)
    }

    private func arm(_ deadline: UInt64) {
        armedDeadline = deadline
        _ = causeway_timerfd_arm(timerFD, max(deadline, 1))
    }

    /// Makes `run()` return after the current pass. Loop thread only; from other threads,
    /// post `{ $0.stop() }` to the mailbox.
    public func stop() {
        stopping = true
    }

    // MARK: Running

    /// Runs passes until `stop()`.
    public func run() {
        let capacity: Int32 = 256
        let events = UnsafeMutablePointer<causeway_epoll_event>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        while !stopping {
            runOnce(events: events, capacity: capacity, timeoutMillis: -1)
        }
    }

    /// Runs a single pass, waiting at most `timeoutMillis` (-1: until an event). For tests.
    public func runOnce(timeoutMillis: Int32) {
        let events = UnsafeMutablePointer<causeway_epoll_event>.allocate(capacity: 64)
        defer { events.deallocate() }
        runOnce(events: events, capacity: 64, timeoutMillis: timeoutMillis)
    }

    private func runOnce(events: UnsafeMutablePointer<causeway_epoll_event>, capacity: Int32, timeoutMillis: Int32) {
        let timeout = flushQueue.isEmpty ? timeoutMillis : 0
        let n = causeway_epoll_wait(epollFD, events, capacity, timeout)
        now = causeway_monotonic_ns()
        var timersDue = false
        var mailDue = false
        if n > 0 {
            for i in 0..<Int(n) {
                let e = events[i]
                if e.data == Self.timerToken { timersDue = true; continue }
                if e.data == Self.mailboxToken { mailDue = true; continue }
                let fd = Int(UInt32(truncatingIfNeeded: e.data))
                let generation = UInt32(truncatingIfNeeded: e.data >> 32)
                guard fd < slots.count, slots[fd].generation == generation, let h = slots[fd].handler else { continue }
                let bits = e.events
                h.loopEvent(
                    readable: bits & (causeway_EPOLLIN | causeway_EPOLLRDHUP) != 0,
                    writable: bits & causeway_EPOLLOUT != 0,
                    hangup: bits & (causeway_EPOLLERR | causeway_EPOLLHUP) != 0
                )
            }
        }
        if timersDue || (armedDeadline != 0 && armedDeadline <= now) { runTimers() }
        if mailDue {
            for work in mailbox.drain() { work(self) }
        }
        runFlushes()
    }

    private func runTimers() {
        var timerCounter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &timerCounter) { Syscall.read(timerFD, into: $0) }
        armedDeadline = 0
        for callback in timers.popDue(now: now) { callback() }
        if let next = timers.earliestDeadline() { arm(next) }
    }

    private func runFlushes() {
        // Flushing one connection can schedule another (window credit returned across a
        // proxied stream), so drain until quiet.
        var rounds = 0
        while !flushQueue.isEmpty && rounds < 8 {
            let batch = flushQueue
            flushQueue.removeAll(keepingCapacity: true)
            for h in batch { h.loopFlush() }
            rounds += 1
        }
    }
}
