import CausewayHTTP
import CausewayLoop

/// What every connection on one loop shares: the loop, the read and plaintext buffers, and
/// the spare event array. A connection needs only this, not a `Worker`, so any loop can
/// host one (a worker's, a prober's).
///
/// Loop-bound; not thread-safe.
public final class LoopContext {
    public let loop: EventLoop
    /// Read buffer shared by every connection on this loop: bytes are fully handled
    /// (copied into stream queues or dropped) before the next read.
    public let readBuffer: UnsafeMutableRawBufferPointer
    /// Decrypted bytes of TLS connections, used the same way as `readBuffer`.
    public let plaintextBuffer: UnsafeMutableRawBufferPointer
    private var spareEvents: [H2Event] = []

    public init(loop: EventLoop) {
        self.loop = loop
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        plaintextBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
        plaintextBuffer.deallocate()
    }

    /// An empty event array with reserved capacity, if one was returned.
    func takeSpareEventArray() -> [H2Event] {
        let a = spareEvents
        spareEvents = []
        return a
    }

    /// Keeps `a`'s storage for the next `takeSpareEventArray()`.
    func returnSpareEventArray(_ a: [H2Event]) {
        if a.capacity > spareEvents.capacity { spareEvents = a }
    }
}
