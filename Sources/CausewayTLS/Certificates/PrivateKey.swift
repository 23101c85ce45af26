import COpenSSL

/// The key types the tooling generates.
public enum KeyAlgorithm: String, CaseIterable, Sendable, CustomStringConvertible {
    /// ECDSA over NIST P-256 (the default: small, fast handshakes).
    case ecP256 = "ec"
    /// RSA with a 2048-bit modulus, for peers that cannot do ECDSA.
    case rsa2048 = "rsa"

    public var description: String {
        switch self {
        case .ecP256: "ECDSA P-256"
        case .rsa2048: "RSA 2048"
        }
    }
}

/// A private key (OpenSSL `EVP_PKEY`), freed with the object.
///
/// Used by the certificate tooling, not by the TLS engine (which loads keys from files into
/// its context). Not thread-safe; keep one on one thread.
public final class PrivateKey {
    let pkey: OpaquePointer

    /// Takes ownership of `pkey`.
    init(taking pkey: OpaquePointer) {
        self.pkey = pkey
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Generates a fresh key from OpenSSL's CSPRNG.
    public static func generate(_ algorithm: KeyAlgorithm) throws(CertificateError) -> PrivateKey {
        OpenSSLErrorQueue.clear()
        let name = algorithm == .ecP256 ? "EC" : "RSA"
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw .openSSL(operation: "EVP_PKEY_CTX_new_from_name(\(name))", detail: OpenSSLErrorQueue.drainDescription(fallback: "unavailable"))
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else {
            throw .openSSL(operation: "EVP_PKEY_keygen_init", detail: OpenSSLErrorQueue.drainDescription(fallback: "failed"))
        }
        let configured = switch algorithm {
        case .ecP256: EVP_PKEY_CTX_set_group_name(ctx, "P-256")
        case .rsa2048: EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048)
        }
        guard configured == 1 else {
            throw .openSSL(operation: "configuring \(algorithm) key generation", detail: OpenSSLErrorQueue.drainDescription(fallback: "failed"))
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(ctx, &key) == 1, let key else {
            throw .openSSL(operation: "EVP_PKEY_generate", detail: OpenSSLErrorQueue.drainDescription(fallback: "failed"))
        }
        return PrivateKey(taking: key)
    }

    /// Reads the first private key in PEM `text` (unencrypted PKCS#8 or traditional form).
    public convenience init(pem text: String) throws(CertificateError) {
        self.init(taking: try PEMBridge.readPrivateKey(text))
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    public func pemEncoded() throws(CertificateError) -> String {
        try PEMBridge.writeToString("PEM_write_bio_PrivateKey") { bio in
            PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil)
        }
    }

    /// The algorithm, or nil for a key type the tooling does not generate.
    public var algorithm: KeyAlgorithm? {
        if EVP_PKEY_is_a(pkey, "EC") == 1 && EVP_PKEY_get_bits(pkey) == 256 { return .ecP256 }
        if EVP_PKEY_is_a(pkey, "RSA") == 1 && EVP_PKEY_get_bits(pkey) == 2048 { return .rsa2048 }
        return nil
    }

    /// True when this key is the private half of `certificate`'s public key.
    public func matches(_ certificate: Certificate) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return X509_check_private_key(certificate.x509, pkey) == 1
    }
}
