import COpenSSL
import Foundation

/// An X.509 certificate (OpenSSL `X509`), freed with the object.
///
/// Read-only accessors cover what the tooling and its tests look at. Not thread-safe (OpenSSL
/// caches extension data lazily); keep one on one thread.
public final class Certificate {
    let x509: OpaquePointer

    /// Takes ownership of `x509`.
    init(taking x509: OpaquePointer) {
        self.x509 = x509
    }

    deinit { X509_free(x509) }

    /// Reads the first certificate in PEM `text`.
    public convenience init(pem text: String) throws(CertificateError) {
        var all = try PEMBridge.readCertificates(text)
        let first = all.removeFirst()
        all.forEach { X509_free($0) }
        self.init(taking: first)
    }

    /// Reads every certificate in PEM `text`, in order (a chain file: leaf first).
    public static func chain(pem text: String) throws(CertificateError) -> [Certificate] {
        try PEMBridge.readCertificates(text).map { Certificate(taking: $0) }
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    public func pemEncoded() throws(CertificateError) -> String {
        try PEMBridge.writeToString("PEM_write_bio_X509") { bio in PEM_write_bio_X509(bio, x509) }
    }

    /// The subject, RFC 2253 style (`CN=cluster1 intermediate CA,OU=cluster1,O=Causeway`).
    public var subject: String { X509Fields.distinguishedName(X509_get_subject_name(x509)) }

    /// The issuer's subject, RFC 2253 style.
    public var issuer: String { X509Fields.distinguishedName(X509_get_issuer_name(x509)) }

    /// The serial number in lowercase hexadecimal.
    public var serialNumberHex: String { X509Fields.serialHex(x509) }

    /// The validity period.
    public var validity: Validity {
        Validity(
            notBefore: X509Fields.date(X509_get0_notBefore(x509)),
            notAfter: X509Fields.date(X509_get0_notAfter(x509))
        )
    }

    /// True for a CA certificate (basicConstraints CA:TRUE).
    public var isCertificateAuthority: Bool { X509_check_ca(x509) == 1 }

    /// The basicConstraints path length, or nil when unlimited or not a CA.
    public var pathLengthConstraint: Int? {
        let length = X509_get_pathlen(x509)
        return length < 0 ? nil : length
    }

    /// Key usage bits; empty when the extension is absent.
    public var keyUsage: KeyUsage { KeyUsage(extensionValue: X509_get_key_usage(x509)) }

    /// Extended key usages the tooling uses; empty when the extension is absent.
    public var extendedKeyUsage: ExtendedKeyUsage { ExtendedKeyUsage(extensionValue: X509_get_extended_key_usage(x509)) }

    /// The subjectKeyIdentifier, or nil.
    public var subjectKeyIdentifier: [UInt8]? { X509Fields.octets(X509_get0_subject_key_id(x509)) }

    /// The keyIdentifier of the authorityKeyIdentifier extension, or nil.
    public var authorityKeyIdentifier: [UInt8]? { X509Fields.octets(X509_get0_authority_key_id(x509)) }

    /// Subject alternative names, in certificate order.
    public var subjectAlternativeNames: [SubjectAlternativeName] { GeneralNames.read(from: x509) }

    /// The certificate's SPIFFE ID under the mesh's rule: exactly one `spiffe://` URI SAN,
    /// well formed.
    public func spiffeID() throws(PeerIdentityError) -> SPIFFEID {
        try PeerIdentityRule.spiffeID(fromURIs: GeneralNames.uris(of: x509))
    }

    /// True when `issuer`'s subject is this certificate's issuer and its key signed it.
    public func isIssued(by issuer: Certificate) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard X509_check_issued(issuer.x509, x509) == X509_V_OK, let key = X509_get0_pubkey(issuer.x509) else { return false }
        return X509_verify(x509, key) == 1
    }
}

/// Key usage bits (RFC 5280 §4.2.1.3) that the tooling sets.
public struct KeyUsage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Signing (TLS handshakes).
    public static let digitalSignature = KeyUsage(rawValue: UInt32(KU_DIGITAL_SIGNATURE))
    /// Encrypting keys (TLS 1.2 RSA key exchange).
    public static let keyEncipherment = KeyUsage(rawValue: UInt32(KU_KEY_ENCIPHERMENT))
    /// Signing certificates (CAs).
    public static let keyCertSign = KeyUsage(rawValue: UInt32(KU_KEY_CERT_SIGN))
    /// Signing revocation lists (CAs).
    public static let cRLSign = KeyUsage(rawValue: UInt32(KU_CRL_SIGN))

    /// OpenSSL returns all bits set when the extension is absent; that reads as none here.
    init(extensionValue: UInt32) {
        self.init(rawValue: extensionValue == UInt32.max ? 0 : extensionValue)
    }
}

/// Extended key usages (RFC 5280 §4.2.1.12) that the tooling sets.
public struct ExtendedKeyUsage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// TLS server authentication.
    public static let serverAuth = ExtendedKeyUsage(rawValue: UInt32(XKU_SSL_SERVER))
    /// TLS client authentication.
    public static let clientAuth = ExtendedKeyUsage(rawValue: UInt32(XKU_SSL_CLIENT))

    init(extensionValue: UInt32) {
        self.init(rawValue: extensionValue == UInt32.max ? 0 : extensionValue & (UInt32(XKU_SSL_SERVER) | UInt32(XKU_SSL_CLIENT)))
    }
}
