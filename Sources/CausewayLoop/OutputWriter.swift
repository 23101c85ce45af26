#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes

/// How a flush of an `OutputQueue` ended.
public enum FlushResult: Equatable {
    /// Everything queued was written.
    case drained
    /// The socket is full; wait for `EPOLLOUT` before writing again.
    case blocked
    /// A hard error (`errno`); the connection is unusable.
    case failed(Int32)
}

/// Gathering writes of an `OutputQueue` to a socket.
public enum OutputWriter {
    /// Segments handed to one `writev`; Linux's IOV_MAX is 1024.
    public static let maxSegments = 64

    /// Writes as much of `queue` as the socket accepts and consumes what was written.
    public static func flush(_ queue: inout OutputQueue, to fd: Int32) -> FlushResult {
        while !queue.isEmpty {
            var asked = 0
            let result = queue.withSegments(maxSegments: maxSegments) { segments -> IOResult in
                withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(segments.count, 1)) { iov in
                    for (i, s) in segments.enumerated() {
                        iov[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: s.0), iov_len: s.1)
                        asked += s.1
                    }
                    return Syscall.writev(fd, iov.baseAddress!, count: Int32(segments.count))
                }
            }
            switch result {
            case .bytes(let n):
                queue.consume(n)
                // A short write means the socket buffer is full: asking again would only EAGAIN.
                if n < asked { return .blocked }
            case .wouldBlock:
                return .blocked
            case .failed(let code):
                return .failed(code)
            }
        }
        return .drained
    }
}
