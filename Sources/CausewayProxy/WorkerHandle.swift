import CausewayLoop

/// The control thread's view of a worker: everything goes through the worker's mailbox.
public final class WorkerHandle: Sendable {
    /// 0-based worker number.
    public let index: Int
    private let mailbox: Mailbox
    private let joinThread: @Sendable () -> Void

    private init(index: Int, mailbox: Mailbox, join: @escaping @Sendable () -> Void) {
        self.index = index
        self.mailbox = mailbox
        self.joinThread = join
    }

    /// Starts a worker thread serving `listenerFDs` (listening sockets it takes over).
    /// `descriptorBudget` caps its downstream connections below the configured limit when
    /// the process's descriptor limit requires (`OpenFileLimit.downstreamBudget`).
    /// `mirrorSink` makes this worker the one that subscribes to linked gateways' export
    /// streams (one worker does).
    public static func start(index: Int, snapshot: RoutingSnapshot, listeners: [ListenerSpec],
                             descriptorBudget: Int = .max, logSink: LogSink? = nil,
                             mirrorSink: (any MirrorEventSink)? = nil) throws(SystemError) -> WorkerHandle {
        let (mailbox, join) = try LoopThread.start(name: "causeway-w\(index)") { loop in
            let worker = Worker(loop: loop, index: index, snapshot: snapshot, descriptorBudget: descriptorBudget, logSink: logSink,
                                mirrorSink: mirrorSink)
            loop.context = worker
            for listener in listeners {
                do {
                    try worker.addListener(listener)
                } catch {
                    worker.log("cannot watch listener: \(error)")
                }
            }
        }
        return WorkerHandle(index: index, mailbox: mailbox, join: join)
    }

    /// Replaces the worker's routing snapshot; requests in flight keep theirs.
    public func install(_ snapshot: RoutingSnapshot) {
        mailbox.post { loop in (loop.context as? Worker)?.install(snapshot) }
    }

    /// Reopens `cluster`'s export stream `attempt`, if this worker subscribes to it and that
    /// stream is still the current one.
    public func resyncMirror(cluster: String, attempt: Int) {
        mailbox.post { loop in (loop.context as? Worker)?.resyncMirror(cluster: cluster, attempt: attempt) }
    }

    /// Asks the worker what it would do with a request (`/route`); `reply` runs on the
    /// worker's thread with the explanation as compact JSON.
    public func explainRoute(authority: String, path: String, method: String, reply: @escaping @Sendable (String) -> Void) {
        mailbox.post { loop in
            guard let worker = loop.context as? Worker else { return reply("{}") }
            reply(RouteExplainer.explain(authority: authority, path: path, method: method, on: worker).compact())
        }
    }

    /// Asks for the worker's ejected endpoints (`/endpoints`); `reply` runs on its thread.
    public func collectEjections(_ reply: @escaping @Sendable ([EjectedEndpoint]) -> Void) {
        mailbox.post { loop in
            guard let worker = loop.context as? Worker else { return reply([]) }
            reply(worker.forwarder.ejections(now: loop.now))
        }
    }

    /// Asks for a copy of the worker's counters; `reply` runs on the worker's thread.
    public func collectMetrics(_ reply: @escaping @Sendable (MetricsSnapshot) -> Void) {
        mailbox.post { loop in
            if let worker = loop.context as? Worker { reply(worker.metricsSnapshot()) }
        }
    }

    /// Stops accepting and sends GOAWAY to every client; `done` runs (on the worker's
    /// thread) once all client connections have closed or `timeoutNanos` has passed.
    public func drain(timeoutNanos: UInt64, done: @escaping @Sendable () -> Void) {
        mailbox.post { loop in
            guard let worker = loop.context as? Worker else { return done() }
            worker.drain(deadline: loop.now &+ timeoutNanos, done: done)
        }
    }

    /// Closes the worker's listeners and connections and ends its thread.
    public func stop() {
        mailbox.post { loop in
            (loop.context as? Worker)?.shutdown()
            loop.stop()
        }
    }

    /// Waits for the worker's thread to end (after `stop()`).
    public func join() { joinThread() }
}
