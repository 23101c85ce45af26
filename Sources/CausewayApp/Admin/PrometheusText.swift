import CausewayProxy

/// Renders counters in the Prometheus text exposition format (version 0.0.4). Every series
/// carries the `cluster` label.
enum PrometheusText {
    static func render(_ m: MetricsSnapshot, cluster: String, certificates: [CertificateExpiry] = []) -> String {
        let c = "cluster=\"\(escape(cluster))\""
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("causeway_requests_total", "counter", "Requests answered, by service (\"\" when no service matched), the cluster that serves it, and status code.")
        for r in m.requests.sorted(by: { ($0.service, $0.status) < ($1.service, $1.status) }) {
            out += "causeway_requests_total{\(c),service=\"\(escape(r.service))\",upstream_cluster=\"\(escape(r.upstreamCluster))\",code=\"\(r.status)\"} \(r.count)\n"
        }
        for counter in Counter.allCases {
            family(counter.name, counter.isGauge ? "gauge" : "counter", counter.help)
            out += "\(counter.name){\(c)} \(m.counters[counter])\n"
        }
        family("causeway_tls_handshakes_total", "counter", "TLS handshakes completed, by side (downstream: gateway clients; upstream: remote gateways).")
        for side in ["downstream", "upstream"] {
            out += "causeway_tls_handshakes_total{\(c),side=\"\(side)\"} \(m.tlsHandshakes[side] ?? 0)\n"
        }
        family("causeway_tls_handshake_failures_total", "counter", "TLS handshakes refused or broken, by side and reason.")
        for (key, n) in m.tlsFailures.sorted(by: { ($0.key.side, $0.key.reason) < ($1.key.side, $1.key.reason) }) {
            out += "causeway_tls_handshake_failures_total{\(c),side=\"\(key.side)\",reason=\"\(escape(key.reason))\"} \(n)\n"
        }
        family("causeway_route_backend_requests_total", "counter", "Requests per HTTPRoute backend (route namespace/name, backend Service) and status code: watch a canary shift here.")
        for r in m.routeRequests {
            out += "causeway_route_backend_requests_total{\(c),route=\"\(escape(r.key.route))\",backend=\"\(escape(r.key.backend))\",code=\"\(r.status)\"} \(r.count)\n"
        }
        family("causeway_authz_denied_total", "counter", "Requests denied (403 denied) by AuthorizationPolicy (namespace/name).")
        for (policy, n) in m.authzDenied.sorted(by: { $0.key < $1.key }) {
            out += "causeway_authz_denied_total{\(c),policy=\"\(escape(policy))\"} \(n)\n"
        }
        family("causeway_http1_parse_errors_total", "counter", "HTTP/1.1 messages refused by the parser, by side (downstream: client requests; upstream: endpoint responses) and reason.")
        for (key, n) in m.http1ParseErrors.sorted(by: { ($0.key.side, $0.key.reason) < ($1.key.side, $1.key.reason) }) {
            out += "causeway_http1_parse_errors_total{\(c),side=\"\(key.side)\",reason=\"\(escape(key.reason))\"} \(n)\n"
        }
        family("causeway_request_duration_seconds", "histogram", "Time from a request's headers to the end of its stream, per service.")
        for (service, h) in m.durations.sorted(by: { $0.key < $1.key }) {
            out += h.render("causeway_request_duration_seconds", labels: "\(c),service=\"\(escape(service))\"")
        }
        family("causeway_certificate_expiry_timestamp_seconds", "gauge",
               "When each certificate file in use expires (notAfter, Unix time): the leaf of the certificate chain, the first root to expire in the trust bundle.")
        for expiry in certificates.sorted(by: { $0.file < $1.file }) {
            out += "causeway_certificate_expiry_timestamp_seconds{\(c),file=\"\(escape(expiry.file))\"} \(expiry.notAfterSeconds)\n"
        }
        return out
    }

    /// Escapes a label value (backslash, double quote, newline).
    static func escape(_ s: String) -> String {
        var r = ""
        for ch in s {
            switch ch {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.append(ch)
            }
        }
        return r
    }
}
