#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims
import Synchronization

/// The thread-safe way into a loop: other threads post closures that the loop runs on its
/// own thread, in order.
///
/// Posting writes the loop's eventfd only when the queue goes from empty to non-empty, so a
/// burst of messages costs one wake-up.
public final class Mailbox: Sendable {
    /// The eventfd the loop polls; written to wake it.
    let eventFD: Int32
    private let queue = Mutex<[@Sendable (EventLoop) -> Void]>([])

    init() throws(SystemError) {
        eventFD = try Syscall.check("eventfd", causeway_eventfd())
    }

    deinit { Syscall.close(eventFD) }

    /// Runs `work` on the loop's thread during its next pass. Callable from any thread.
    public func post(_ work: @escaping @Sendable (EventLoop) -> Void) {
        let wasEmpty = queue.withLock { q in
            q.append(work)
            return q.count == 1
        }
        if wasEmpty { wake() }
    }

    func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Syscall.write(eventFD, $0) }
    }

    /// Takes every queued message; called by the loop after its eventfd fires.
    func drain() -> [@Sendable (EventLoop) -> Void] {
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { Syscall.read(eventFD, into: $0) }
        return queue.withLock { q in
            let items = q
            q.removeAll(keepingCapacity: true)
            return items
        }
    }
}
