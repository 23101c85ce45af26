import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// A certificate's validity period against a given moment: the bridging file for
/// comparing OpenSSL's ASN1_TIME with the engine's clock (`TLSClock`), by the same rule
/// OpenSSL's chain verification applies.
enum CertificateTimes {
    /// Where `now` falls relative to a certificate's validity period.
    enum Standing: Equatable {
        /// notBefore <= now < notAfter.
        case valid
        /// now < notBefore.
        case notYetValid
        /// notAfter <= now (OpenSSL counts the last second as expired too).
        case expired
        /// A validity field OpenSSL could not compare: treated as invalid by callers.
        case unreadable
    }

    /// The standing of `x509` (borrowed) at `now`, in seconds since the Unix epoch.
    static func standing(of x509: OpaquePointer, at now: Int64) -> Standing {
        let moment = time_t(now)
        // ASN1_TIME_cmp_time_t: -1 earlier than `moment`, 0 equal, 1 later, -2 error.
        let start = ASN1_TIME_cmp_time_t(X509_get0_notBefore(x509), moment)
        let end = ASN1_TIME_cmp_time_t(X509_get0_notAfter(x509), moment)
        if start == -2 || end == -2 { return .unreadable }
        if start > 0 { return .notYetValid }
        if end <= 0 { return .expired }
        return .valid
    }

    /// `x509`'s notBefore, as OpenSSL prints it (`Dec  1 20:58:00 2026 GMT`).
    static func notBeforeText(_ x509: OpaquePointer) -> String { text(X509_get0_notBefore(x509)) }

    /// `x509`'s notAfter, as OpenSSL prints it.
    static func notAfterText(_ x509: OpaquePointer) -> String { text(X509_get0_notAfter(x509)) }

    /// A moment in seconds since the Unix epoch, printed the same way (for messages that
    /// put the clock beside a certificate's dates).
    static func text(epochSeconds: Int64) -> String {
        guard let time = ASN1_TIME_set(nil, time_t(epochSeconds)) else { return "\(epochSeconds) s after the epoch" }
        defer { ASN1_TIME_free(time) }
        return text(UnsafePointer(time))
    }

    private static func text(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        guard ASN1_TIME_print(bio, time) == 1 else {
            OpenSSLErrorQueue.clear()
            return "?"
        }
        let count = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        return String(decoding: bytes.prefix(max(0, Int(read))), as: UTF8.self)
    }
}
