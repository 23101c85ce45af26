import COpenSSL

/// What goes into a certificate apart from its keys.
struct CertificateSpec {
    /// Relative distinguished names, most significant first (`O`, `OU`, `CN`).
    var subject: [(field: String, value: String)]
    var validity: Validity
    var profile: CertificateProfile
    var subjectAlternativeNames: [SubjectAlternativeName]
}

/// The mesh's three kinds of certificate and their X.509v3 extensions.
enum CertificateProfile {
    /// Self-signed trust anchor.
    case root
    /// A cluster's CA: signs workload certificates only.
    case intermediate
    /// A workload certificate for both ends of mTLS. RSA keys also get keyEncipherment
    /// (TLS 1.2 RSA key exchange needs it; ECDSA keys only sign).
    case leaf(keyEncipherment: Bool)

    /// The extensions in OpenSSL's configuration syntax. Only these constants go through
    /// that syntax; anything a user typed goes in as subject alternative names, encoded
    /// structurally, so no input can smuggle in another extension value.
    var extensions: [(nid: Int32, value: String)] {
        let identifiers: [(nid: Int32, value: String)] = [
            (NID_subject_key_identifier, "hash"),
            // Needs the issuer's subjectKeyIdentifier, so it comes after it (for a root,
            // its own, added just before).
            (NID_authority_key_identifier, "keyid:always"),
        ]
        switch self {
        case .root:
            return [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign")] + identifiers
        case .intermediate:
            return [(NID_basic_constraints, "critical,CA:TRUE,pathlen:0"), (NID_key_usage, "critical,keyCertSign,cRLSign")] + identifiers
        case .leaf(let keyEncipherment):
            return [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, keyEncipherment ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth,clientAuth"),
            ] + identifiers
        }
    }
}

/// Builds and signs X.509v3 certificates through OpenSSL: the bridging file for
/// certificate creation.
enum X509Builder {
    /// Makes a certificate for `subjectKey`, signed by `issuer`, or self-signed with
    /// `subjectKey` when `issuer` is nil. The serial number is 128 random bits; the
    /// signature is SHA-256 with the issuer's key type (ECDSA or RSA PKCS#1 v1.5).
    static func sign(
        _ spec: CertificateSpec,
        subjectKey: PrivateKey,
        issuer: (certificate: Certificate, key: PrivateKey)?
    ) throws(CertificateError) -> Certificate {
        OpenSSLErrorQueue.clear()
        guard let raw = X509_new() else { throw failure("X509_new") }
        // Owned from here on: any throw below frees it.
        let certificate = Certificate(taking: raw)
        let x509 = certificate.x509

        guard X509_set_version(x509, Int(X509_VERSION_3)) == 1 else { throw failure("X509_set_version") }
        try setRandomSerial(x509)
        try setNames(x509, subject: spec.subject, issuer: issuer?.certificate)
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(Validity.epochSeconds(spec.validity.notBefore))) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), time_t(Validity.epochSeconds(spec.validity.notAfter))) != nil
        else { throw failure("ASN1_TIME_set") }
        guard X509_set_pubkey(x509, subjectKey.pkey) == 1 else { throw failure("X509_set_pubkey") }

        var context = X509V3_CTX()
        // A self-signed certificate is its own issuer (for the authority key identifier).
        X509V3_set_ctx(&context, issuer?.certificate.x509 ?? x509, x509, nil, nil, 0)
        for (nid, value) in spec.profile.extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw failure("X509V3_EXT_conf_nid(\(String(cString: OBJ_nid2sn(nid))), \(value))")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw failure("X509_add_ext") }
        }
        if !spec.subjectAlternativeNames.isEmpty {
            let names = try GeneralNames.make(spec.subjectAlternativeNames)
            defer { GENERAL_NAMES_free(names) }
            guard X509_add1_ext_i2d(x509, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, UInt(X509V3_ADD_DEFAULT)) == 1 else {
                throw failure("X509_add1_ext_i2d(subjectAltName)")
            }
        }

        let signingKey = issuer?.key ?? subjectKey
        guard X509_sign(x509, signingKey.pkey, EVP_sha256()) > 0 else { throw failure("X509_sign") }
        return certificate
    }

    private static func setRandomSerial(_ x509: OpaquePointer) throws(CertificateError) {
        var bytes = [UInt8](repeating: 0, count: 16)
        repeat {
            guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw failure("RAND_bytes") }
        } while bytes.allSatisfy { $0 == 0 }  // a serial number must be positive
        guard let bn = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw failure("BN_bin2bn") }
        defer { BN_free(bn) }
        guard BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) != nil else { throw failure("BN_to_ASN1_INTEGER") }
    }

    private static func setNames(_ x509: OpaquePointer, subject: [(field: String, value: String)], issuer: Certificate?) throws(CertificateError) {
        guard let name = X509_NAME_new() else { throw failure("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        for (field, value) in subject {
            let bytes = Array(value.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                throw failure("X509_NAME_add_entry_by_txt(\(field))")
            }
        }
        guard X509_set_subject_name(x509, name) == 1 else { throw failure("X509_set_subject_name") }
        let issuerName = issuer.map { X509_get_subject_name($0.x509) } ?? name
        guard X509_set_issuer_name(x509, issuerName) == 1 else { throw failure("X509_set_issuer_name") }
    }

    private static func failure(_ operation: String) -> CertificateError {
        .openSSL(operation: operation, detail: OpenSSLErrorQueue.drainDescription(fallback: "failed"))
    }
}
