/// The mesh's certificate files under one directory (`causeway certs ... --out DIR`):
///
/// ```
/// DIR/root.pem, DIR/root-key.pem            shared root CA (self-signed)
/// DIR/<cluster>/ca.pem, ca-key.pem          the cluster's intermediate (pathlen 0)
/// DIR/<cluster>/<name>-chain.pem            a workload leaf, then the intermediate
/// DIR/<cluster>/<name>-key.pem
/// ```
///
/// Keys are written 0600, certificates 0644, each file atomically. An existing key is never
/// replaced unless `force` is true; the check happens before any key is generated, so a
/// refused command changes nothing.
public struct CertsLayout: Sendable {
    /// The directory the CLI uses when `--out` is not given.
    public static let defaultDirectory = "certs/out"

    /// The layout's root directory.
    public let directory: String

    /// A layout under `directory` (created on first write).
    public init(directory: String = CertsLayout.defaultDirectory) {
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    // MARK: Paths

    /// `DIR/root.pem`: the root certificate, which is also the proxies' trust bundle.
    public var rootCertificatePath: String { join("root.pem") }
    /// `DIR/root-key.pem`.
    public var rootKeyPath: String { join("root-key.pem") }
    /// `DIR/<cluster>`.
    public func clusterDirectory(_ cluster: String) -> String { join(cluster) }
    /// `DIR/<cluster>/ca.pem`: the cluster's intermediate certificate.
    public func intermediateCertificatePath(cluster: String) -> String { join(cluster, "ca.pem") }
    /// `DIR/<cluster>/ca-key.pem`.
    public func intermediateKeyPath(cluster: String) -> String { join(cluster, "ca-key.pem") }
    /// `DIR/<cluster>/<name>-chain.pem`: a workload certificate, then its intermediate.
    public func chainPath(cluster: String, name: String) -> String { join(cluster, "\(name)-chain.pem") }
    /// `DIR/<cluster>/<name>-key.pem`.
    public func keyPath(cluster: String, name: String) -> String { join(cluster, "\(name)-key.pem") }

    // MARK: Commands

    /// Makes a root and writes `root.pem` and `root-key.pem`.
    public func createRoot(keyAlgorithm: KeyAlgorithm, validity: Validity, force: Bool) throws(CertsLayoutError) -> CertificateAuthority {
        try refuseExistingKey(rootKeyPath, force: force)
        let root = try certificateStep { () throws(CertificateError) in
            try CertificateAuthority.makeRoot(keyAlgorithm: keyAlgorithm, validity: validity)
        }
        try write(root: root, force: force)
        return root
    }

    /// Makes `cluster`'s intermediate from the root on disk and writes `<cluster>/ca.pem`
    /// and `<cluster>/ca-key.pem`.
    public func createIntermediate(cluster: String, keyAlgorithm: KeyAlgorithm, validity: Validity, force: Bool) throws(CertsLayoutError) -> CertificateAuthority {
        try certificateStep { () throws(CertificateError) in try CertificateNames.check(cluster, what: "cluster") }
        try refuseExistingKey(intermediateKeyPath(cluster: cluster), force: force)
        let root = try loadRoot()
        let intermediate = try certificateStep { () throws(CertificateError) in
            try CertificateAuthority.makeIntermediate(cluster: cluster, signedBy: root, keyAlgorithm: keyAlgorithm, validity: validity)
        }
        try write(intermediate: intermediate, cluster: cluster, force: force)
        return intermediate
    }

    /// Issues a workload certificate from `cluster`'s intermediate on disk and writes
    /// `<cluster>/<name>-chain.pem` and `<cluster>/<name>-key.pem`.
    public func issue(
        cluster: String,
        name: String,
        spiffeID: SPIFFEID?,
        alternativeNames: [SubjectAlternativeName] = [],
        keyAlgorithm: KeyAlgorithm,
        validity: Validity,
        force: Bool
    ) throws(CertsLayoutError) -> IssuedCertificate {
        try certificateStep { () throws(CertificateError) in
            try CertificateNames.check(cluster, what: "cluster")
            try CertificateNames.check(name, what: "certificate name")
        }
        try refuseExistingKey(keyPath(cluster: cluster, name: name), force: force)
        let intermediate = try loadIntermediate(cluster: cluster)
        let leaf = try certificateStep { () throws(CertificateError) in
            try intermediate.issueLeaf(name: name, spiffeID: spiffeID, alternativeNames: alternativeNames, keyAlgorithm: keyAlgorithm, validity: validity)
        }
        try write(leaf: leaf, cluster: cluster, name: name, force: force)
        return leaf
    }

    // MARK: Reading

    /// The root CA from `root.pem` and `root-key.pem`.
    public func loadRoot() throws(CertsLayoutError) -> CertificateAuthority {
        try loadAuthority(
            certificatePath: rootCertificatePath,
            keyPath: rootKeyPath,
            hint: "run `causeway certs root --out \(directory)` first"
        )
    }

    /// `cluster`'s intermediate from `<cluster>/ca.pem` and `<cluster>/ca-key.pem`.
    public func loadIntermediate(cluster: String) throws(CertsLayoutError) -> CertificateAuthority {
        try loadAuthority(
            certificatePath: intermediateCertificatePath(cluster: cluster),
            keyPath: intermediateKeyPath(cluster: cluster),
            hint: "run `causeway certs intermediate --cluster \(cluster) --out \(directory)` first"
        )
    }

    // MARK: Writing

    /// Writes a root's files (for tests that build CAs in memory).
    public func write(root: CertificateAuthority, force: Bool) throws(CertsLayoutError) {
        try FileStore.makeDirectory(directory)
        try writePair(certificate: certificateStep { () throws(CertificateError) in try root.certificate.pemEncoded() }, certificatePath: rootCertificatePath,
                      key: root.key, keyPath: rootKeyPath, force: force)
    }

    /// Writes an intermediate's files.
    public func write(intermediate: CertificateAuthority, cluster: String, force: Bool) throws(CertsLayoutError) {
        try certificateStep { () throws(CertificateError) in try CertificateNames.check(cluster, what: "cluster") }
        try FileStore.makeDirectory(clusterDirectory(cluster))
        try writePair(certificate: certificateStep { () throws(CertificateError) in try intermediate.certificate.pemEncoded() },
                      certificatePath: intermediateCertificatePath(cluster: cluster),
                      key: intermediate.key, keyPath: intermediateKeyPath(cluster: cluster), force: force)
    }

    /// Writes a workload certificate's chain and key.
    public func write(leaf: IssuedCertificate, cluster: String, name: String, force: Bool) throws(CertsLayoutError) {
        try certificateStep { () throws(CertificateError) in
            try CertificateNames.check(cluster, what: "cluster")
            try CertificateNames.check(name, what: "certificate name")
        }
        try FileStore.makeDirectory(clusterDirectory(cluster))
        try writePair(certificate: certificateStep { () throws(CertificateError) in try leaf.chainPEM() },
                      certificatePath: chainPath(cluster: cluster, name: name),
                      key: leaf.key, keyPath: keyPath(cluster: cluster, name: name), force: force)
    }

    // MARK: Helpers

    private func join(_ parts: String...) -> String {
        ([directory] + parts).joined(separator: "/")
    }

    private func refuseExistingKey(_ path: String, force: Bool) throws(CertsLayoutError) {
        if !force && FileStore.exists(path) { throw .keyExists(path: path) }
    }

    /// Key first: a reader that sees the new certificate can then always find its key.
    private func writePair(certificate: String, certificatePath: String, key: PrivateKey, keyPath: String, force: Bool) throws(CertsLayoutError) {
        let keyPEM = try certificateStep { () throws(CertificateError) in try key.pemEncoded() }
        try FileStore.write(keyPEM, to: keyPath, mode: FileStore.keyMode, replace: force)
        try FileStore.write(certificate, to: certificatePath, mode: FileStore.certificateMode, replace: true)
    }

    private func loadAuthority(certificatePath: String, keyPath: String, hint: String) throws(CertsLayoutError) -> CertificateAuthority {
        for path in [certificatePath, keyPath] where !FileStore.exists(path) {
            throw .missingIssuer(path: path, hint: hint)
        }
        let certificateText = try FileStore.read(certificatePath)
        let keyText = try FileStore.read(keyPath)
        let certificate = try certificateStep(path: certificatePath) { () throws(CertificateError) in try Certificate(pem: certificateText) }
        let key = try certificateStep(path: keyPath) { () throws(CertificateError) in try PrivateKey(pem: keyText) }
        return try certificateStep(path: certificatePath) { () throws(CertificateError) in try CertificateAuthority(certificate: certificate, key: key) }
    }

    private func certificateStep<T>(path: String? = nil, _ body: () throws(CertificateError) -> T) throws(CertsLayoutError) -> T {
        do { return try body() } catch { throw .certificate(path: path, error) }
    }
}
