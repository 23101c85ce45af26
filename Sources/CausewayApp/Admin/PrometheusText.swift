import CausewayProxy

/// Renders counters in the Prometheus text exposition format (version 0.0.4). Every series
/// carries the `cluster` label.
enum PrometheusText {
    static func render(_ m: MetricsSnapshot, cluster: String) -> String {
        let c = "cluster=\"\(escape(cluster))\""
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("causeway_requests_total", "counter", "Requests answered, by service (\"\" when no service matched) and status code.")
        for r in m.requests.sorted(by: { ($0.service, $0.status) < ($1.service, $1.status) }) {
            out += "causeway_requests_total{\(c),service=\"\(escape(r.service))\",code=\"\(r.status)\"} \(r.count)\n"
        }
        let gauges: [(String, String, String, String)] = [
            ("causeway_downstream_connections_active", "gauge", "Open downstream (client) connections.", "\(m.downstreamConnectionsActive)"),
            ("causeway_downstream_connections_total", "counter", "Downstream connections accepted.", "\(m.downstreamConnectionsTotal)"),
            ("causeway_upstream_connections_active", "gauge", "Open upstream connections.", "\(m.upstreamConnectionsActive)"),
            ("causeway_upstream_connections_total", "counter", "Upstream connections opened.", "\(m.upstreamConnectionsTotal)"),
            ("causeway_upstream_connect_failures_total", "counter", "Upstream connects that failed, were refused or timed out.", "\(m.upstreamConnectFailures)"),
            ("causeway_downstream_received_bytes_total", "counter", "Bytes read from downstream connections.", "\(m.downstreamBytesReceived)"),
            ("causeway_downstream_sent_bytes_total", "counter", "Bytes written to downstream connections.", "\(m.downstreamBytesSent)"),
            ("causeway_upstream_received_bytes_total", "counter", "Bytes read from upstream connections.", "\(m.upstreamBytesReceived)"),
            ("causeway_upstream_sent_bytes_total", "counter", "Bytes written to upstream connections.", "\(m.upstreamBytesSent)"),
            ("causeway_streams_reset_total", "counter", "Streams the proxy reset on either side.", "\(m.streamsReset)"),
        ]
        for (name, type, help, value) in gauges {
            family(name, type, help)
            out += "\(name){\(c)} \(value)\n"
        }
        family("causeway_tls_handshakes_total", "counter", "TLS handshakes completed, by side (downstream: gateway clients; upstream: remote gateways).")
        for side in ["downstream", "upstream"] {
            out += "causeway_tls_handshakes_total{\(c),side=\"\(side)\"} \(m.tlsHandshakes[side] ?? 0)\n"
        }
        family("causeway_tls_handshake_failures_total", "counter", "TLS handshakes refused or broken, by side and reason.")
        for (key, n) in m.tlsFailures.sorted(by: { ($0.key.side, $0.key.reason) < ($1.key.side, $1.key.reason) }) {
            out += "causeway_tls_handshake_failures_total{\(c),side=\"\(key.side)\",reason=\"\(escape(key.reason))\"} \(n)\n"
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
