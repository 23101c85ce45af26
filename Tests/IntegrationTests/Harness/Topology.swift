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
    /// The network namespace it runs in; nil: this test's own.
    let netns: Netns?

    /// The DNS server's port (UDP and TCP on 127.0.0.1), when started with `dns`.
    let dnsPort: UInt16?

    /// Starts causeway with one Service per entry of `services` (in `namespace`, which is
    /// also the Proxy's `spec.namespace`).
    /// - Parameters:
    ///   - accessLog: whether the listener writes an access log line per request.
    ///   - dns: when given, a `spec.dns` section on a free port of 127.0.0.1 with these more
    ///     fields (flow style, e.g. `upstream: "127.0.0.1:5300"`); see `dnsPort`.
    ///   - netns: run it inside this namespace (a pod's), on 127.0.0.1:15001 with its admin
    ///     on 127.0.0.1:15000 and its DNS (if any) on 127.0.0.1:15053, as a sidecar would be.
    ///   - extraListeners: more entries of `spec.listeners` (flow mappings, one per line).
    ///   - wrapper: with `netns`, a command (and its arguments) that runs causeway, e.g.
    ///     `setpriv` dropping capabilities.
    init(dir: TempDir, services: [String: [TestEndpoint]], workers: Int = 2, extraProxySpec: String = "", accessLog: Bool = false,
         namespace: String = "default", dns: String? = nil, netns: Netns? = nil, extraListeners: [String] = [],
         wrapper: [String] = []) throws {
        self.netns = netns
        port = netns == nil ? Ports.free() : 15001
        adminPort = netns == nil ? Ports.free() : 15000
        let dnsAddress = netns == nil ? "127.0.0.1:0" : "127.0.0.1:15053"
        let listeners = (["{ name: outbound, role: sidecar, address: \"127.0.0.1:\(port)\"\(accessLog ? ", accessLog: true" : "") }"]
            + extraListeners).map { "  - \($0)" }.joined(separator: "\n")
        var yaml = """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: test-proxy }
        spec:
          cluster: test-cluster
          workers: \(workers)
          listeners:
        \(listeners)
          admin: { address: "127.0.0.1:\(adminPort)" }
        \(namespace == "default" ? "" : "  namespace: \(namespace)")
        \(dns.map { "  dns: { address: \"\(dnsAddress)\"\($0.isEmpty ? "" : ", " + $0) }" } ?? "")
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
        if let netns {
            let command = wrapper + [try causewayBinary(), "run", "--config", configPath]
            process = try netns.start("causeway", command[0], Array(command.dropFirst()))
            try netns.waitListening(port, process: process)
            try netns.waitListening(adminPort, process: process)
            dnsPort = dns == nil ? nil : 15053
            if dns != nil { try netns.waitListening(15053, process: process) }
            return
        }
        process = try TestProcess("causeway", executable: try causewayBinary(), arguments: ["run", "--config", configPath])
        try Ports.waitListening(port, process: process)
        try Ports.waitListening(adminPort, process: process)
        dnsPort = dns == nil ? nil : try DNSPort.announced(by: process)
    }

    /// `http://127.0.0.1:PORT` + path.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// GETs an admin path with curl.
    func admin(_ path: String) throws -> String {
        let arguments = ["-sS", "--max-time", "10", "http://127.0.0.1:\(adminPort)\(path)"]
        if let netns { return try netns.run("curl", arguments).stdoutText }
        return try runCommand("curl", arguments).stdoutText
    }

    /// The value of an unlabelled metric at `/metrics` (0 when absent).
    func metric(_ name: String) throws -> Int {
        for line in try admin("/metrics").split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { return Int(value) }
        }
        return 0
    }

    func stop() { process.stop() }
}
