import CausewayTLS
import Foundation

/// When a certificate file in use stops being usable: the
/// `causeway_certificate_expiry_timestamp_seconds{file}` metric.
public struct CertificateExpiry: Sendable, Equatable {
    /// The file, absolute.
    public let file: String
    /// notAfter, seconds since the Unix epoch: of the leaf for a certificate chain, of the
    /// first root to expire for a trust bundle (an overlap bundle's old root comes first).
    public let notAfterSeconds: Int64

    public init(file: String, notAfterSeconds: Int64) {
        self.file = file
        self.notAfterSeconds = notAfterSeconds
    }

    /// The expiries of `tls`'s trust bundle and certificate chain, parsed from `bundle`
    /// and `chain` (the bytes the contexts were built from).
    /// - Throws: `TLSFilesError` naming the file when it holds no readable certificate.
    static func of(_ tls: TLSFiles, bundle: [UInt8], chain: [UInt8]) throws(TLSFilesError) -> [CertificateExpiry] {
        let bundleDates = try notAfterDates(bundle, file: tls.trustBundle, field: "trustBundle")
        let chainDates = try notAfterDates(chain, file: tls.certificateChain, field: "certificateChain")
        // Both non-empty: notAfterDates throws for a file without certificates.
        return [
            CertificateExpiry(file: tls.trustBundle, notAfterSeconds: bundleDates.min()!),
            CertificateExpiry(file: tls.certificateChain, notAfterSeconds: chainDates[0]),
        ]
    }

    /// notAfter of every certificate in a PEM file, in file order.
    private static func notAfterDates(_ bytes: [UInt8], file: String, field: String) throws(TLSFilesError) -> [Int64] {
        do {
            let certificates = try Certificate.chain(pem: String(decoding: bytes, as: UTF8.self))
            return certificates.map { Int64($0.validity.notAfter.timeIntervalSince1970.rounded(.down)) }
        } catch {
            throw TLSFilesError(file: file, field: field, message: "cannot read its certificates: \(error)")
        }
    }
}
