#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// Runs a system command to completion with `posix_spawn`: its standard input from a
/// string, its standard output and error captured together.
///
/// Not Foundation's `Process`: that needs a run-loop wakeup socket pair over loopback, and
/// hangs in a network namespace whose `lo` is still down (an init container runs early).
enum CommandRunner {
    /// How a command ended.
    struct Result {
        /// The exit status; 127 when it could not be started, 128 + n when killed by signal n.
        let status: Int32
        /// Standard output and error, as text.
        let output: String
    }

    /// Runs the executable at `path` with `arguments`; `input` is its standard input (empty:
    /// /dev/null-like, immediately at end).
    static func run(_ path: String, _ arguments: [String], input: String = "") -> Result {
        // The input goes through an unlinked temporary file: a pipe would need a writer
        // thread for input larger than its buffer.
        var template = Array("/tmp/causeway-capture-XXXXXX".utf8CString)
        let inputFD = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard inputFD >= 0 else { return Result(status: 127, output: "mkstemp: \(SystemError("mkstemp", code: errno))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(inputFD) }
        var text = input
        let written = text.withUTF8 { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = write(inputFD, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written, lseek(inputFD, 0, SEEK_SET) == 0 else {
            return Result(status: 127, output: "cannot buffer the input of \(path)")
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { return Result(status: 127, output: "pipe: \(SystemError("pipe", code: errno))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputFD, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(pipeFDs[1])
        guard rc == 0 else {
            close(pipeFDs[0])
            return Result(status: 127, output: "\(path): \(SystemError("posix_spawn", code: rc))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n > 0 { output += buffer[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
        let exit: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exit, output: String(decoding: output, as: UTF8.self))
    }
}
