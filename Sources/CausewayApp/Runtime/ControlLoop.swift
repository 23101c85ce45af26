import CausewayLoop
import CausewayMesh
import CausewayProxy

/// The control thread's loop: mirror events from the subscribing worker and the mirrors'
/// lease timers run here, so a worker only posts a message and goes back to traffic.
///
/// The server is attached after it is built (workers start first and may report before);
/// events that arrive earlier wait in `pending`.
final class ControlLoop: Sendable {
    private let mailbox: Mailbox
    private let join: @Sendable () -> Void

    /// The current monotonic time, nanoseconds (the clock every loop uses).
    static func now() -> UInt64 { LogClock.monotonicNanos() }

    static func start() throws(SystemError) -> ControlLoop {
        let (mailbox, join) = try LoopThread.start(name: "causeway-ctl") { loop in
            loop.context = ControlContext()
        }
        return ControlLoop(mailbox: mailbox, join: join)
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void) {
        self.mailbox = mailbox
        self.join = join
    }

    /// Where the subscribing worker reports.
    var mirrorSink: any MirrorEventSink { ControlMirrorSink(mailbox: mailbox) }

    /// Starts delivering events to `server` (and those that arrived before).
    func attach(_ server: ProxyServer) {
        mailbox.post { loop in
            guard let context = loop.context as? ControlContext else { return }
            context.server = server
            let pending = context.pending
            context.pending.removeAll()
            for event in pending { event(server) }
        }
    }

    /// Schedules the next lease check, replacing any earlier schedule. The deadline is read
    /// from the server when this runs on the control loop, not when it was asked for:
    /// requests come from several threads and may arrive out of order.
    func scheduleLeaseCheck() {
        mailbox.post { loop in
            guard let context = loop.context as? ControlContext else { return }
            if let timer = context.leaseTimer { loop.cancel(timer) }
            context.leaseTimer = nil
            guard let deadline = context.server?.nextLeaseDeadline() else { return }
            // A millisecond late, so the lease has certainly changed when it runs.
            context.leaseTimer = loop.schedule(at: deadline &+ 1_000_000) {
                context.leaseTimer = nil
                context.server?.leaseCheck()
            }
        }
    }

    /// Ends the loop and joins its thread.
    func stop() {
        mailbox.post { loop in
            (loop.context as? ControlContext)?.server = nil
            loop.stop()
        }
        join()
    }

    /// Runs `event` with the server on the control loop.
    fileprivate static func deliver(_ mailbox: Mailbox, _ event: @escaping @Sendable (ProxyServer) -> Void) {
        mailbox.post { loop in
            guard let context = loop.context as? ControlContext else { return }
            if let server = context.server { event(server) } else { context.pending.append(event) }
        }
    }
}

/// The control loop's state.
private final class ControlContext {
    /// Unowned in spirit: `ProxyServer.stop` clears it before the server goes.
    var server: ProxyServer?
    var leaseTimer: TimerID?
    var pending: [@Sendable (ProxyServer) -> Void] = []
}

/// Hands the subscribing worker's events to the control loop.
private struct ControlMirrorSink: MirrorEventSink {
    let mailbox: Mailbox

    func mirrorReceived(cluster: String, message: MirrorMessage, attempt: Int) {
        ControlLoop.deliver(mailbox) { $0.mirrorReceived(cluster: cluster, message: message, attempt: attempt) }
    }

    func mirrorStreamLost(cluster: String, reason: String, attempt: Int) {
        ControlLoop.deliver(mailbox) { $0.mirrorStreamLost(cluster: cluster, attempt: attempt) }
    }
}
