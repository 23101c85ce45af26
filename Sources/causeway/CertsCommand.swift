import ArgumentParser
import CausewayTLS
import Foundation

/// `causeway certs`: the mesh's certificates, made with OpenSSL's API (no `openssl`
/// command): a shared root, one intermediate per cluster, workload certificates whose URI
/// SAN is a SPIFFE ID. The layout and rotation are described in certs/README.md.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the mesh's root, per-cluster intermediates and workload certificates.",
        discussion: """
            Files under --out (default \(CertsLayout.defaultDirectory)):
              root.pem, root-key.pem            the shared root CA
              <cluster>/ca.pem, ca-key.pem      the cluster's intermediate
              <cluster>/<name>-chain.pem        a workload certificate + intermediate
              <cluster>/<name>-key.pem          its key
            Keys are written with mode 0600 and never replaced without --force.
            """,
        subcommands: [Root.self, Intermediate.self, Issue.self]
    )
}

/// Options every `certs` subcommand takes.
struct CertsOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Directory of the certificate layout.", valueName: "dir"))
    var out: String = CertsLayout.defaultDirectory

    @Option(name: .customLong("key-type"), help: "Key type of the new key: ec (ECDSA P-256) or rsa (RSA 2048).")
    var keyType: KeyTypeArgument = .ec

    @Flag(name: .long, help: "Replace an existing private key (and its certificate).")
    var force = false

    var layout: CertsLayout { CertsLayout(directory: out) }
}

/// `--key-type` values.
enum KeyTypeArgument: String, ExpressibleByArgument, CaseIterable {
    case ec, rsa

    var algorithm: KeyAlgorithm { self == .ec ? .ecP256 : .rsa2048 }
}

/// Checks `--days`: at least one day, at most a century.
private func validateDays(_ days: Int) throws {
    guard (1...36_500).contains(days) else { throw ValidationError("--days must be between 1 and 36500 (got \(days))") }
}

/// Runs a layout step; a failure is printed and becomes exit code 64 when the request
/// itself was wrong (missing issuer, existing key, invalid name), 1 otherwise.
private func certsStep<T>(_ body: () throws(CertsLayoutError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printErr("causeway certs: \(error)")
        throw ExitCode(error.isUsageError ? exitUsage : 1)
    }
}

private func expiry(_ certificate: Certificate) -> String {
    certificate.validity.notAfter.formatted(.iso8601)
}

extension Certs {
    struct Root: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the shared root CA: <dir>/root.pem and <dir>/root-key.pem.",
            discussion: "Every cluster trusts this root. Keep root-key.pem offline once the intermediates exist."
        )

        @OptionGroup var options: CertsOptions

        @Option(help: "Days the root is valid.")
        var days = 3650

        func validate() throws { try validateDays(days) }

        func run() throws {
            let layout = options.layout
            let root = try certsStep { () throws(CertsLayoutError) in
                try layout.createRoot(keyAlgorithm: options.keyType.algorithm, validity: .days(days, from: Date()), force: options.force)
            }
            print("wrote \(layout.rootCertificatePath) and \(layout.rootKeyPath) (\(options.keyType.algorithm), expires \(expiry(root.certificate)))")
        }
    }

    struct Intermediate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a cluster's intermediate CA, signed by the root: <dir>/<cluster>/ca.pem and ca-key.pem.",
            discussion: "CA:TRUE with pathlen 0: it signs workload certificates only. Needs `causeway certs root` first."
        )

        @OptionGroup var options: CertsOptions

        @Option(help: "Cluster name (a DNS label, e.g. cluster1).")
        var cluster: String

        @Option(help: "Days the intermediate is valid (at most the root's remaining life).")
        var days = 730

        func validate() throws { try validateDays(days) }

        func run() throws {
            let layout = options.layout
            let intermediate = try certsStep { () throws(CertsLayoutError) in
                try layout.createIntermediate(cluster: cluster, keyAlgorithm: options.keyType.algorithm, validity: .days(days, from: Date()), force: options.force)
            }
            print("wrote \(layout.intermediateCertificatePath(cluster: cluster)) and \(layout.intermediateKeyPath(cluster: cluster)) (\(options.keyType.algorithm), expires \(expiry(intermediate.certificate)))")
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a workload certificate from a cluster's intermediate: <dir>/<cluster>/<name>-chain.pem and <name>-key.pem.",
            discussion: """
                The certificate serves both ends of mTLS (serverAuth and clientAuth); its first URI SAN \
                is the SPIFFE ID, e.g. spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway. \
                Needs `causeway certs intermediate --cluster <cluster>` first.
                """
        )

        @OptionGroup var options: CertsOptions

        @Option(help: "Cluster whose intermediate signs (e.g. cluster2).")
        var cluster: String

        @Option(help: "Certificate name: the file prefix and common name (e.g. gateway).")
        var name: String

        @Option(name: .customLong("spiffe-id"), help: "The workload identity: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.")
        var spiffeID: String

        @Option(name: .customLong("dns"), help: "A DNS name to add as a SAN (repeatable).")
        var dnsNames: [String] = []

        @Option(name: .customLong("ip"), help: "An IP address to add as a SAN (repeatable).")
        var ipAddresses: [String] = []

        @Option(help: "Days the certificate is valid (at most the intermediate's remaining life).")
        var days = 365

        func validate() throws {
            try validateDays(days)
            do {
                _ = try SPIFFEID(parsing: spiffeID)
            } catch {
                throw ValidationError("--spiffe-id \(spiffeID): \(error)")
            }
        }

        func run() throws {
            let layout = options.layout
            // validate() has parsed it already; this cannot fail.
            let id = try SPIFFEID(parsing: spiffeID)
            let names = dnsNames.map(SubjectAlternativeName.dns) + ipAddresses.map(SubjectAlternativeName.ip)
            let leaf = try certsStep { () throws(CertsLayoutError) in
                try layout.issue(cluster: cluster, name: name, spiffeID: id, alternativeNames: names,
                                 keyAlgorithm: options.keyType.algorithm, validity: .days(days, from: Date()), force: options.force)
            }
            print("wrote \(layout.chainPath(cluster: cluster, name: name)) and \(layout.keyPath(cluster: cluster, name: name)) (\(id), \(options.keyType.algorithm), expires \(expiry(leaf.certificate)))")
        }
    }
}
