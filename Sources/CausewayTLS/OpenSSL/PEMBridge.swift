import COpenSSL

/// PEM text in and out of OpenSSL objects through temporary memory BIOs: the one place
/// where the certificate tooling hands Swift strings to OpenSSL as C buffers.
enum PEMBridge {
    /// Runs `body` with a read-only BIO over `text`'s UTF-8 bytes. The BIO is freed after.
    static func withReadBIO<R>(_ text: String, _ body: (OpaquePointer) throws(CertificateError) -> R) throws(CertificateError) -> R {
        var bytes = Array(text.utf8)
        // BIO_new_mem_buf does not copy: the array must outlive the BIO, which it does.
        let result: Result<R, CertificateError> = bytes.withUnsafeMutableBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(.openSSL(operation: "BIO_new_mem_buf", detail: OpenSSLErrorQueue.drainDescription(fallback: "out of memory")))
            }
            defer { BIO_free(bio) }
            do throws(CertificateError) { return .success(try body(bio)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Runs `write` against a fresh memory BIO and returns what it wrote as a string.
    /// `write` returns OpenSSL's success flag (1 on success).
    static func writeToString(_ operation: String, _ write: (OpaquePointer) -> Int32) throws(CertificateError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw .openSSL(operation: "BIO_new", detail: OpenSSLErrorQueue.drainDescription(fallback: "out of memory"))
        }
        defer { BIO_free(bio) }
        OpenSSLErrorQueue.clear()
        guard write(bio) == 1 else {
            throw .openSSL(operation: operation, detail: OpenSSLErrorQueue.drainDescription(fallback: "failed"))
        }
        let count = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        guard read == Int32(count) else {
            throw .openSSL(operation: "BIO_read", detail: "short read from a memory BIO")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads every certificate in `text`, in order. Throws if there is none.
    static func readCertificates(_ text: String) throws(CertificateError) -> [OpaquePointer] {
        try withReadBIO(text) { bio throws(CertificateError) in
            var certificates: [OpaquePointer] = []
            OpenSSLErrorQueue.clear()
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(x509)
            }
            // The loop ends on "no start line" at end of input; only a failure before the
            // first certificate, or a damaged block after some, is an error.
            let entries = OpenSSLErrorQueue.drain()
            let damaged = entries.contains { $0.library == ERR_LIB_PEM && $0.reason != PEM_R_NO_START_LINE }
                || entries.contains { $0.library != ERR_LIB_PEM }
            if certificates.isEmpty || damaged {
                certificates.forEach { X509_free($0) }
                let detail = entries.isEmpty ? "no certificate found" : entries.map(\.text).joined(separator: "; ")
                throw .invalidPEM(what: "certificate", detail: certificates.isEmpty && !damaged ? "no PEM certificate found" : detail)
            }
            return certificates
        }
    }

    /// Reads the first private key in `text` (PKCS#8, or the traditional EC/RSA forms).
    /// Encrypted keys are refused.
    static func readPrivateKey(_ text: String) throws(CertificateError) -> OpaquePointer {
        try withReadBIO(text) { bio throws(CertificateError) in
            OpenSSLErrorQueue.clear()
            // A password callback that supplies none: OpenSSL's default would prompt on the
            // terminal for an encrypted key, which a proxy must never do.
            guard let key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil) else {
                throw .invalidPEM(what: "private key", detail: OpenSSLErrorQueue.drainDescription(fallback: "no PEM private key found"))
            }
            OpenSSLErrorQueue.clear()
            return key
        }
    }
}
