#if canImport(Glibc)
import Glibc
#endif

/// The permission rule for a private key file: nobody but its owner may have any access
/// to it (`mode & 0o077 == 0`, i.e. 0600, 0400 or stricter).
///
/// A key that others can read is a key others may already hold: refusing to start is
/// cheaper than finding out later. `causeway certs` writes keys 0600; a looser mode means
/// the file was copied or mounted carelessly (a Kubernetes secret volume is 0644 unless
/// its `defaultMode` says otherwise).
public enum KeyFileMode {
    /// The permission bits that must be clear: every group and other bit.
    static let forbidden: mode_t = 0o077

    /// Throws unless the file at `path` (after following symlinks, since that is the file
    /// OpenSSL reads) is closed to group and others. The error names the file and its mode.
    public static func check(_ path: String) throws(TLSConfigurationError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TLSConfigurationError(path: path, message: "cannot stat the private key: \(String(cString: strerror(errno)))")
        }
        let permissions = info.st_mode & 0o7777
        guard permissions & forbidden == 0 else {
            throw TLSConfigurationError(
                path: path,
                message: "the private key is accessible to group or others (mode \(octal(permissions))); it must be 0600 or stricter (chmod 600)"
            )
        }
    }

    /// `mode` as four octal digits, the way `ls` and `chmod` users read it (0644).
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
