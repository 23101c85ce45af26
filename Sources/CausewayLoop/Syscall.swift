#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// An OS error: the call that failed and its `errno`.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    /// The failing call, e.g. `"connect"`.
    public let call: String
    /// The `errno` value.
    public let code: Int32

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    public var description: String {
        "\(call): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// The outcome of a non-blocking read or write: `EAGAIN` is a value, not an error.
public enum IOResult: Equatable {
    /// The call transferred this many bytes (0 on a read means the peer closed).
    case bytes(Int)
    /// The socket is not ready; wait for readiness.
    case wouldBlock
    /// A hard error (`errno`).
    case failed(Int32)
}

/// Thin wrappers over the syscalls the loop uses: they retry `EINTR` and map `EAGAIN`.
public enum Syscall {
    /// `read(2)` into `buffer`.
    @inlinable
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return .bytes(n) }
            let e = causeway_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// `writev(2)` of `iov`.
    @inlinable
    public static func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, count: Int32) -> IOResult {
        while true {
            let n = Glibc.writev(fd, iov, count)
            if n >= 0 { return .bytes(n) }
            let e = causeway_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// `write(2)` of `bytes`.
    @inlinable
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return .bytes(n) }
            let e = causeway_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// `close(2)`; errors are ignored because the descriptor is gone either way.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Throws `SystemError` when `result` is negative.
    @discardableResult
    public static func check(_ call: String, _ result: Int32) throws(SystemError) -> Int32 {
        if result < 0 { throw SystemError(call, code: causeway_errno()) }
        return result
    }
}
