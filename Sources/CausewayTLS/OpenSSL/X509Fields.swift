import COpenSSL
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reading fields out of OpenSSL's X.509 structures into Swift values: the bridging file
/// behind `Certificate`'s accessors.
enum X509Fields {
    /// A name in RFC 2253 form.
    static func distinguishedName(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, causeway_XN_FLAG_RFC2253()) >= 0 else {
            OpenSSLErrorQueue.clear()
            return ""
        }
        let count = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        return String(decoding: bytes.prefix(max(0, Int(read))), as: UTF8.self)
    }

    /// The serial number as lowercase hexadecimal.
    static func serialHex(_ x509: OpaquePointer) -> String {
        guard let bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { causeway_OPENSSL_free(hex) }
        return String(cString: hex).lowercased()
    }

    /// An ASN1_TIME as a date (second precision).
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// An octet string's bytes, or nil.
    static func octets(_ string: UnsafePointer<ASN1_OCTET_STRING>?) -> [UInt8]? {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }
}
