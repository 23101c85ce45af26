import Foundation

/// A real `nghttpd` serving a docroot over h2c on a free loopback port.
final class NghttpdBackend {
    let port: UInt16
    let process: TestProcess

    /// - Parameters:
    ///   - extra: more nghttpd flags (`--echo-upload` is always on; add
    ///     `--trailer=...`, `-v` for frame logs, `-w`/`-W` for windows).
    ///   - port: the port to listen on (a restarted backend keeps its address); default a free one.
    init(docroot: String, extra: [String] = [], port: UInt16? = nil) throws {
        self.port = port ?? Ports.free()
        process = try TestProcess("nghttpd", executable: "nghttpd",
                                  arguments: ["--no-tls", "--echo-upload", "-d", docroot] + extra + [String(self.port)])
        try Ports.waitListening(self.port, process: process)
    }

    func stop() { process.stop() }
}

/// One endpoint of a test service.
struct TestEndpoint {
    var ip = "127.0.0.1"
    var port: UInt16
    var ready = true
    /// The slice port's `appProtocol` (the first endpoint's names the service's).
    var appProtocol = "kubernetes.io/h2c"
}

/// A `causeway run` sidecar with a generated configuration.
final class CausewaySidecar {
    let port: UInt16
    let adminPort: UInt16
    let process: TestProcess
    let configPath: String

    /// The DNS server's port (UDP and TCP on 127.0.0.1), when started with `dns`.
    let dnsPort: UInt16?

    /// Starts causeway with one Service per entry of `services` (in `namespace`, which is
    /// also the Proxy's `spec.namespace`).
    /// - Parameters:
    ///   - accessLog: whether the listener writes an access log line per request.
    ///   - dns: when given, a `spec.dns` section on a free port of 127.0.0.1 with these more
    ///     fields (flow style, e.g. `upstream: "127.0.0.1:5300"`); see `dnsPort`.
    init(dir: TempDir, services: [String: [TestEndpoint]], workers: Int = 2, extraProxySpec: String = "", accessLog: Bool = false,
         namespace: String = "default", dns: String? = nil) throws {
        port = Ports.free()
        adminPort = Ports.free()
        var yaml = """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: test-proxy }
        spec:
          cluster: test-cluster
          workers: \(workers)
          listeners:
          - { name: outbound, role: sidecar, address: "127.0.0.1:\(port)"\(accessLog ? ", accessLog: true" : "") }
          admin: { address: "127.0.0.1:\(adminPort)" }
        \(namespace == "default" ? "" : "  namespace: \(namespace)")
        \(dns.map { "  dns: { address: \"127.0.0.1:0\"\($0.isEmpty ? "" : ", " + $0) }" } ?? "")
        \(extraProxySpec)
        """
        for (name, endpoints) in services.sorted(by: { $0.key < $1.key }) {
            let port = endpoints.first?.port ?? 8080
            let appProtocol = endpoints.first?.appProtocol ?? "kubernetes.io/h2c"
            let list = endpoints.map { "  - { addresses: [ \"\($0.ip)\" ], conditions: { ready: \($0.ready) } }" }.joined(separator: "\n")
            yaml += """

            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: \(name)-1, namespace: \(namespace), labels: { kubernetes.io/service-name: \(name) } }
            addressType: IPv4
            ports: [ { name: http, port: \(port), protocol: TCP, appProtocol: \(appProtocol) } ]
            endpoints:
            \(endpoints.isEmpty ? "  []" : list)
            """
        }
        try dir.write("causeway.yaml", yaml + "\n")
        configPath = dir.path("causeway.yaml")
        process = try TestProcess("causeway", executable: try causewayBinary(), arguments: ["run", "--config", configPath])
        try Ports.waitListening(port, process: process)
        try Ports.waitListening(adminPort, process: process)
        dnsPort = dns == nil ? nil : try DNSPort.announced(by: process)
    }

    /// `http://127.0.0.1:PORT` + path.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// GETs an admin path with curl.
    func admin(_ path: String) throws -> String {
        try runCommand("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(adminPort)\(path)"]).stdoutText
    }

    func stop() { process.stop() }
}
