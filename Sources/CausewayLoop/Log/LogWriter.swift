#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// The sink's writer thread: drains every producer's ring into the descriptor with
/// gathering writes, and sleeps on the registry's eventfd when there is nothing to write.
///
/// It is the only thread that ever blocks on the log descriptor (a full pipe, a slow
/// terminal), which is the point: producers lose lines instead of stalling.
final class LogWriter {
    /// One contiguous piece of a ring in the current batch.
    private struct Segment {
        let ring: LogRing
        let bytes: UnsafeRawBufferPointer
    }

    /// Segments per `writev`: two per ring at most, well under Linux's IOV_MAX of 1024.
    static let maxSegments = 128

    private let registry: LogRegistry
    private let fd: Int32
    /// `poll` timeout when idle; -1 waits for the eventfd alone. See `LogSink.init`.
    private let idleWaitMillis: Int32
    private var segments: [Segment] = []
    /// Ring the next batch starts at, so that with more rings than `maxSegments / 2` each
    /// gets its turn first.
    private var rotation = 0

    private init(registry: LogRegistry, fd: Int32, idleWaitMillis: Int32) {
        self.registry = registry
        self.fd = fd
        self.idleWaitMillis = idleWaitMillis
        segments.reserveCapacity(Self.maxSegments)
    }

    /// Starts the writer thread. Called once, by `LogSink.init`.
    static func start(registry: LogRegistry, fd: Int32, name: String, idleWaitMillis: Int32) throws(SystemError) -> pthread_t {
        let box = Unmanaged.passRetained(Start(name: name, registry: registry, fd: fd, idleWaitMillis: idleWaitMillis))
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.name.withCString { causeway_set_thread_name($0) }
            LogWriter(registry: start.registry, fd: start.fd, idleWaitMillis: start.idleWaitMillis).run()
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            throw SystemError("pthread_create", code: rc)
        }
        return thread
    }

    private final class Start {
        let name: String
        let registry: LogRegistry
        let fd: Int32
        let idleWaitMillis: Int32
        init(name: String, registry: LogRegistry, fd: Int32, idleWaitMillis: Int32) {
            self.name = String(name.prefix(15))  // Linux thread names are at most 15 bytes.
            self.registry = registry
            self.fd = fd
            self.idleWaitMillis = idleWaitMillis
        }
    }

    // MARK: Writer thread

    private func run() {
        while true {
            collect(registry.activeRings())
            if segments.isEmpty {
                // Everything queued before the stop request has been written.
                if registry.stopRequested.load(ordering: .acquiring) { break }
                waitForWork()
                continue
            }
            writeBatch()
            segments.removeAll(keepingCapacity: true)
        }
        registry.writerExited.store(true, ordering: .releasing)
    }

    /// Takes what each ring holds now. Lines queued later wait for the next batch, which
    /// is what keeps every line whole: a batch is written to the end before the rings are
    /// looked at again.
    private func collect(_ rings: [LogRing]) {
        guard !rings.isEmpty else { return }
        rotation = rotation >= rings.count ? 0 : rotation
        for k in 0..<rings.count {
            guard segments.count + 2 <= Self.maxSegments else { break }
            let ring = rings[(rotation + k) % rings.count]
            let (_, first, second) = ring.readable()
            if first.count > 0 { segments.append(Segment(ring: ring, bytes: first)) }
            if second.count > 0 { segments.append(Segment(ring: ring, bytes: second)) }
        }
        rotation += 1
    }

    /// Writes the batch to the end, releasing ring space as bytes go out.
    private func writeBatch() {
        var index = 0  // First segment not completely written.
        var offset = 0  // Bytes of `segments[index]` already written.
        while index < segments.count {
            let n = segments.count - index
            let result = withUnsafeTemporaryAllocation(of: iovec.self, capacity: n) { iov -> IOResult in
                for k in 0..<n {
                    let s = segments[index + k]
                    let skip = k == 0 ? offset : 0
                    iov[k] = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: s.bytes.baseAddress! + skip),
                        iov_len: s.bytes.count - skip
                    )
                }
                return Syscall.writev(fd, iov.baseAddress!, count: Int32(n))
            }
            switch result {
            case .bytes(var written) where written > 0:
                while written > 0 {
                    let s = segments[index]
                    let left = s.bytes.count - offset
                    if written >= left {
                        s.ring.release(left)
                        written -= left
                        index += 1
                        offset = 0
                    } else {
                        s.ring.release(written)
                        offset += written
                        written = 0
                    }
                }
            case .wouldBlock:
                // Someone gave us (or made) a non-blocking descriptor: wait as a blocking
                // write would. The timeout only bounds how long a lost readiness could stall.
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 100)
            default:
                // A hard error (or a write of nothing, which would spin): the batch is lost.
                // Release it anyway so producers do not fill up behind a dead descriptor.
                registry.writeFailures.add(1, ordering: .relaxed)
                for k in index..<segments.count {
                    segments[k].ring.release(segments[k].bytes.count - (k == index ? offset : 0))
                }
                index = segments.count
            }
        }
    }

    /// Sleeps until a producer writes the eventfd (or the idle timeout passes).
    private func waitForWork() {
        var p = pollfd(fd: registry.eventFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, idleWaitMillis)
        // Reset the counter. Lines pushed before a wake-up we consume here are picked up by
        // the `collect` that follows; later ones write the eventfd again.
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { Syscall.read(registry.eventFD, into: $0) }
    }
}
