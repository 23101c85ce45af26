import Foundation
import Glibc
import Synchronization

/// A pipe whose read end a background thread drains, collecting everything a `LogSink`
/// writes to the write end.
final class PipeCapture: Sendable {
    let readFD: Int32
    let writeFD: Int32
    private let bytes = Mutex<[UInt8]>([])
    private let readerDone = Atomic<Bool>(false)

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Starts draining the read end (until the write end is closed).
    func startReading() {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n > 0 {
                    bytes.withLock { $0 += buffer[0..<n] }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            readerDone.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// The lines received so far (each without its `\n`; a trailing partial line is kept).
    var lines: [String] {
        let text = bytes.withLock { String(decoding: $0, as: UTF8.self) }
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    var rawBytes: [UInt8] { bytes.withLock { $0 } }

    /// Waits until at least `count` lines arrived or `seconds` passed.
    func waitForLines(_ count: Int, seconds: Double = 10) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while lines.count < count && Date() < deadline { usleep(1000) }
        return lines
    }

    /// Closes the write end (after the sink is shut down) and waits for the reader to see
    /// end of file.
    func finish() -> [String] {
        close(writeFD)
        let deadline = Date().addingTimeInterval(10)
        while !readerDone.load(ordering: .acquiring) && Date() < deadline { usleep(1000) }
        close(readFD)
        return lines
    }
}
