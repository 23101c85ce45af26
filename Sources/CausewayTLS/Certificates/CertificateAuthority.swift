/// A CA: a certificate with CA:TRUE and its private key, able to sign certificates.
///
/// The mesh's hierarchy is one shared root (self-signed), one intermediate per cluster
/// (CA:TRUE, pathlen 0, signed by the root) and workload leaves signed by their cluster's
/// intermediate. Every certificate gets a random 128-bit serial, a subject and authority key
/// identifier, and a SHA-256 signature.
public struct CertificateAuthority {
    /// The CA's certificate.
    public let certificate: Certificate
    /// The CA's private key.
    public let key: PrivateKey

    /// Pairs a CA certificate with its key (e.g. read back from files).
    /// - Throws: `CertificateError.invalidIssuer` if the certificate is not a CA or the key
    ///   is not its key.
    public init(certificate: Certificate, key: PrivateKey) throws(CertificateError) {
        guard certificate.isCertificateAuthority else {
            throw .invalidIssuer("\(certificate.subject) is not a CA certificate")
        }
        guard key.matches(certificate) else {
            throw .invalidIssuer("the private key does not belong to \(certificate.subject)")
        }
        self.certificate = certificate
        self.key = key
    }

    /// Makes a self-signed root: CA:TRUE (no path length limit), keyCertSign and cRLSign.
    public static func makeRoot(
        commonName: String = "Causeway mesh root CA",
        keyAlgorithm: KeyAlgorithm = .ecP256,
        validity: Validity
    ) throws(CertificateError) -> CertificateAuthority {
        try validity.check(within: nil)
        let key = try PrivateKey.generate(keyAlgorithm)
        let spec = CertificateSpec(
            subject: [("O", CertificateNames.organization), ("CN", commonName)],
            validity: validity,
            profile: .root,
            subjectAlternativeNames: []
        )
        return try CertificateAuthority(certificate: X509Builder.sign(spec, subjectKey: key, issuer: nil), key: key)
    }

    /// Makes a cluster's intermediate, signed by `root`: CA:TRUE with pathlen 0 (it signs
    /// workload certificates only), keyCertSign and cRLSign, subject
    /// `CN=<cluster> intermediate CA, OU=<cluster>`.
    /// - Throws: if `cluster` is not a DNS label or `validity` ends after the root's.
    public static func makeIntermediate(
        cluster: String,
        signedBy root: CertificateAuthority,
        keyAlgorithm: KeyAlgorithm = .ecP256,
        validity: Validity
    ) throws(CertificateError) -> CertificateAuthority {
        try CertificateNames.check(cluster, what: "cluster")
        try validity.check(within: root.certificate.validity)
        let key = try PrivateKey.generate(keyAlgorithm)
        let spec = CertificateSpec(
            subject: [("O", CertificateNames.organization), ("OU", cluster), ("CN", "\(cluster) intermediate CA")],
            validity: validity,
            profile: .intermediate,
            subjectAlternativeNames: []
        )
        let certificate = try X509Builder.sign(spec, subjectKey: key, issuer: (root.certificate, root.key))
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// Issues a workload certificate for both ends of mTLS: CA:FALSE, digitalSignature (and
    /// keyEncipherment for RSA), extendedKeyUsage serverAuth and clientAuth, and the SANs:
    /// `spiffeID` as a URI first, then `alternativeNames` in order.
    ///
    /// - Parameters:
    ///   - name: the certificate's common name (a DNS label, e.g. `proxy`, `gateway`).
    ///   - spiffeID: the workload identity. Nil issues a certificate without one, which
    ///     every Causeway peer refuses: only for tests and non-mesh uses.
    ///   - alternativeNames: DNS names and IP addresses (and, for tests, further URIs).
    ///   - validity: must end no later than this CA's certificate.
    public func issueLeaf(
        name: String,
        spiffeID: SPIFFEID?,
        alternativeNames: [SubjectAlternativeName] = [],
        keyAlgorithm: KeyAlgorithm = .ecP256,
        validity: Validity
    ) throws(CertificateError) -> IssuedCertificate {
        try CertificateNames.check(name, what: "certificate name")
        for name in alternativeNames {
            switch name {
            case .dns(let dns): try SubjectAlternativeName.checkDNSName(dns)
            case .uri(let uri): try SubjectAlternativeName.checkURI(uri)
            case .ip: break  // OpenSSL parses it while encoding
            }
        }
        try validity.check(within: certificate.validity)
        let key = try PrivateKey.generate(keyAlgorithm)
        let spec = CertificateSpec(
            subject: [("O", CertificateNames.organization), ("CN", name)],
            validity: validity,
            profile: .leaf(keyEncipherment: keyAlgorithm == .rsa2048),
            subjectAlternativeNames: (spiffeID.map { [.uri($0.description)] } ?? []) + alternativeNames
        )
        let leaf = try X509Builder.sign(spec, subjectKey: key, issuer: (certificate, self.key))
        // Peers have the root; they need the intermediate from us. A root signing leaves
        // directly is not the mesh's layout, but its chain is then the leaf alone.
        let selfSigned = certificate.isIssued(by: certificate)
        return IssuedCertificate(certificate: leaf, key: key, chain: selfSigned ? [leaf] : [leaf, certificate])
    }
}

/// A workload certificate, its key, and the chain a peer needs to verify it.
public struct IssuedCertificate {
    /// The leaf.
    public let certificate: Certificate
    /// The leaf's private key.
    public let key: PrivateKey
    /// The leaf, then its intermediate: the contents of a `-chain.pem` file.
    public let chain: [Certificate]

    /// `chain` as concatenated PEM blocks.
    public func chainPEM() throws(CertificateError) -> String {
        var text = ""
        for certificate in chain { text += try certificate.pemEncoded() }
        return text
    }
}

/// Rules for the names that become file names and subject fields.
enum CertificateNames {
    static let organization = "Causeway"

    /// A cluster or certificate name: a DNS label (lowercase letters, digits, `-`, 1-63
    /// bytes, not starting or ending with `-`), so it is safe as a path component.
    static func check(_ name: String, what: String) throws(CertificateError) {
        let bytes = Array(name.utf8)
        let valid = (1...63).contains(bytes.count)
            && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
            && bytes.allSatisfy { b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
            }
        guard valid else {
            throw .invalidName("\(what) \"\(name)\" must be a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
        }
    }
}
