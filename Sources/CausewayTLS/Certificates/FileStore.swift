#if canImport(Glibc)
import Glibc
#endif

/// Why the certificate layout could not be read or written.
public enum CertsLayoutError: Error, CustomStringConvertible, Sendable {
    /// An issuer file is missing; `hint` says which command makes it.
    case missingIssuer(path: String, hint: String)
    /// A private key is already there and replacing it was not asked for.
    case keyExists(path: String)
    /// A system call failed on `path`.
    case io(path: String, operation: String, errno: Int32)
    /// A key or certificate could not be made or read (`path` when it came from a file).
    case certificate(path: String?, CertificateError)

    /// True when the user asked for something that cannot be done as asked (wrong order,
    /// existing key, invalid name or validity), as opposed to a system or data failure.
    public var isUsageError: Bool {
        switch self {
        case .missingIssuer, .keyExists: true
        case .io: false
        case .certificate(_, let error):
            switch error {
            case .invalidName, .invalidValidity, .invalidSubjectAlternativeName: true
            case .openSSL, .invalidPEM, .invalidIssuer: false
            }
        }
    }

    public var description: String {
        switch self {
        case .missingIssuer(let path, let hint): "\(path) not found: \(hint)"
        case .keyExists(let path): "\(path) already exists; pass --force to replace the key"
        case .io(let path, let operation, let code): "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        case .certificate(let path?, let error): "\(path): \(error)"
        case .certificate(nil, let error): "\(error)"
        }
    }
}

/// Files of the certificate layout, through POSIX calls so that modes and atomicity are
/// exact: a key is created 0600 from its first byte (never readable by others, whatever
/// the umask), every file appears whole (written beside and renamed, so a proxy reloading
/// at that moment reads the old file or the new one), and "do not replace" is enforced by
/// the kernel (`link` fails if the name exists), not by a check that could race.
enum FileStore {
    static let keyMode: mode_t = 0o600
    static let certificateMode: mode_t = 0o644

    /// True if anything (even a dangling symlink) has this name.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// `mkdir -p` with mode 0755.
    static func makeDirectory(_ path: String) throws(CertsLayoutError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .io(path: prefix, operation: "mkdir", errno: errno)
            }
        }
    }

    /// The whole file as UTF-8 text; a missing file is reported as `ENOENT`.
    static func read(_ path: String) throws(CertsLayoutError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `contents` to `path` with exactly `mode`. Without `replace`, fails with
    /// `keyExists` if `path` exists (checked atomically by `link`).
    static func write(_ contents: String, to path: String, mode: mode_t, replace: Bool) throws(CertsLayoutError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        var keepTemporary = false
        defer { if !keepTemporary { unlink(temporary) } }
        do throws(CertsLayoutError) {
            // open() applied the umask; fchmod sets the mode we promised.
            guard fchmod(fd, mode) == 0 else { throw .io(path: temporary, operation: "fchmod", errno: errno) }
            try writeAll(fd, contents, path: temporary)
            guard fsync(fd) == 0 else { throw .io(path: temporary, operation: "fsync", errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw .io(path: temporary, operation: "close", errno: errno) }
        if replace {
            guard rename(temporary, path) == 0 else { throw .io(path: path, operation: "rename", errno: errno) }
            keepTemporary = true  // it is `path` now
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw .keyExists(path: path) }
                throw .io(path: path, operation: "link", errno: errno)
            }
        }
    }

    private static func writeAll(_ fd: Int32, _ contents: String, path: String) throws(CertsLayoutError) {
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }
}
