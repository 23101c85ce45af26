import CausewayProxy
import CausewayTLS
import Foundation
import Synchronization

/// The TLS contexts in use and what they were built from. A reload gets the same contexts
/// back unless the trust domain, a TLS file's path or a TLS file's bytes changed: with
/// files watched, every endpoint edit reloads, and rebuilding the contexts would drain every
/// mTLS connection each time.
///
/// A rebuild that fails leaves the contexts in use as they are: a broken or mismatched
/// key and certificate, an expired certificate, or a key file open to group or others is
/// refused with an error naming the file.
final class TLSContextCache: Sendable {
    /// What the contexts in use were built from.
    struct Source: Equatable {
        let trustDomain: String
        let trustBundle: String
        let certificateChain: String
        let privateKey: String
        /// The three files' bytes, in that order. Compared whole (a few KiB): no hash
        /// collision can hide a change.
        let contents: [[UInt8]]
    }

    /// The contexts for one configuration.
    struct Outcome {
        /// Nil when the proxy has no `spec.tls`.
        let mesh: MeshTLS?
        /// True when the contexts were built anew from changed files.
        let rebuilt: Bool
        /// Expiry of each certificate file in use (empty without `spec.tls`).
        let expiries: [CertificateExpiry]
        /// What an operator should know about the change (e.g. our identity changed).
        let notes: [String]
    }

    private struct Current {
        let source: Source
        let mesh: MeshTLS
        let expiries: [CertificateExpiry]
    }

    private let current = Mutex<Current?>(nil)

    init() {}

    /// The contexts for `proxy`: those in use when its TLS files are unchanged (with its
    /// rotation grace period), else new ones built from the files, which are in use from
    /// then on. Calls must not overlap (the reloader serializes them).
    ///
    /// - Throws: `TLSFilesError` naming the file and field; the contexts in use stay.
    func contexts(for proxy: ProxyConfig, now: Date = Date()) throws(TLSFilesError) -> Outcome {
        guard let files = proxy.tls else {
            current.withLock { $0 = nil }
            return Outcome(mesh: nil, rebuilt: false, expiries: [], notes: [])
        }
        var source = try Self.read(files, trustDomain: proxy.trustDomain)
        let previous = current.withLock { $0 }
        if let previous, previous.source == source {
            // Same bytes, but the mode may have been loosened since: refuse that as a build would.
            try Self.checkKeyMode(files)
            let mesh = MeshTLS(server: previous.mesh.server, client: previous.mesh.client,
                               rotationGracePeriodNanos: files.rotationGracePeriodNanos)
            current.withLock { $0 = Current(source: source, mesh: mesh, expiries: previous.expiries) }
            return Outcome(mesh: mesh, rebuilt: false, expiries: previous.expiries, notes: [])
        }
        var expiries: [CertificateExpiry]
        var mesh: MeshTLS
        var attempt = 0
        while true {
            expiries = try CertificateExpiry.of(files, bundle: source.contents[0], chain: source.contents[1])
            try Self.refuseExpiredLeaf(files, expiries: expiries, now: now)
            mesh = try Self.build(files, trustDomain: proxy.trustDomain)
            // OpenSSL reads the files again: when they changed meanwhile (a rotation writes
            // the key, then the chain), build again so that what is remembered is what was
            // built, and the change's own event finds nothing new (no second drain).
            let after = try Self.read(files, trustDomain: proxy.trustDomain)
            attempt += 1
            if after == source || attempt == 3 { break }
            source = after
        }
        current.withLock { $0 = Current(source: source, mesh: mesh, expiries: expiries) }
        var notes: [String] = []
        if let previous {
            notes.append("tls: new contexts from \(files.certificateChain) (expires \(Self.text(expiries[1].notAfterSeconds))) and \(files.trustBundle); connections made with the previous ones drain over \(files.rotationGracePeriodNanos / 1_000_000) ms")
            if previous.mesh.localIdentity != mesh.localIdentity {
                notes.append("tls: our identity changed from \(previous.mesh.localIdentity ?? "none") to \(mesh.localIdentity ?? "none"); peers that expect the old one will refuse us")
            }
        }
        return Outcome(mesh: mesh, rebuilt: previous != nil, expiries: expiries, notes: notes)
    }

    // MARK: Steps

    private static func read(_ files: TLSFiles, trustDomain: String) throws(TLSFilesError) -> Source {
        var contents: [[UInt8]] = []
        for (path, field) in [(files.trustBundle, "trustBundle"), (files.certificateChain, "certificateChain"), (files.privateKey, "privateKey")] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TLSFilesError(file: path, field: field, message: "cannot read the file")
            }
            contents.append([UInt8](data))
        }
        return Source(trustDomain: trustDomain, trustBundle: files.trustBundle, certificateChain: files.certificateChain,
                      privateKey: files.privateKey, contents: contents)
    }

    private static func checkKeyMode(_ files: TLSFiles) throws(TLSFilesError) {
        do {
            try KeyFileMode.check(files.privateKey)
        } catch {
            throw TLSFilesError(file: files.privateKey, field: "privateKey", message: error.message)
        }
    }

    /// A certificate already past its end would fail every handshake: keep the old one.
    private static func refuseExpiredLeaf(_ files: TLSFiles, expiries: [CertificateExpiry], now: Date) throws(TLSFilesError) {
        let leafEnd = expiries[1].notAfterSeconds
        if leafEnd <= Int64(now.timeIntervalSince1970) {
            throw TLSFilesError(file: files.certificateChain, field: "certificateChain",
                                message: "the certificate expired at \(text(leafEnd)); issue a new one (causeway certs issue --force)")
        }
    }

    private static func build(_ files: TLSFiles, trustDomain: String) throws(TLSFilesError) -> MeshTLS {
        do {
            let domain = try TrustDomain(trustDomain)
            func context(_ role: TLSRole) throws -> TLSContext {
                try TLSContext(TLSConfiguration(role: role, trustDomain: domain, trustBundlePath: files.trustBundle,
                                                certificateChainPath: files.certificateChain, privateKeyPath: files.privateKey))
            }
            return MeshTLS(server: try context(.server), client: try context(.client),
                           rotationGracePeriodNanos: files.rotationGracePeriodNanos)
        } catch let error as TLSConfigurationError {
            throw TLSFilesError(files: files, error)
        } catch {
            throw TLSFilesError(file: files.certificateChain, field: "", message: "\(error)")
        }
    }

    private static func text(_ epochSeconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(epochSeconds)).formatted(.iso8601)
    }
}

/// A TLS file that cannot be used: the file, the `spec.tls` field naming it, and why.
struct TLSFilesError: Error, CustomStringConvertible {
    let file: String
    /// `trustBundle`, `certificateChain` or `privateKey`; empty when no one file is at fault.
    let field: String
    let message: String

    init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    /// Places an OpenSSL loading failure on the file it names.
    init(files: TLSFiles, _ error: TLSConfigurationError) {
        let byPath = [(files.privateKey, "privateKey"), (files.certificateChain, "certificateChain"), (files.trustBundle, "trustBundle")]
        let field = byPath.first { $0.0 == error.path }?.1 ?? ""
        self.init(file: error.path ?? files.certificateChain, field: field, message: error.message)
    }

    var description: String { "tls: \(file): \(message)" }

    /// As a configuration problem, so `/config` and the log show it like the others.
    var problem: ConfigProblem {
        ConfigProblem(file: file, line: 0, column: 0, field: field.isEmpty ? "spec.tls" : "spec.tls.\(field)", message: message)
    }
}
