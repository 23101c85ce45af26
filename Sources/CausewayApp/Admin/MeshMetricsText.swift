/// Renders the links' and mirrors' metrics (Prometheus text, every series with `cluster`):
/// control-thread state, not worker counters, so they come from `MeshStatus`.
enum MeshMetricsText {
    static func render(_ mesh: MeshStatus, cluster: String) -> String {
        let c = "cluster=\"\(PrometheusText.escape(cluster))\""
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ series: (MeshStatus.Link) -> [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for link in mesh.links {
                let l = "\(c),link=\"\(PrometheusText.escape(link.cluster))\""
                for s in series(link) { out += "\(name){\(l)\(s.labels)} \(s.value)\n" }
            }
        }
        family("causeway_link_up", "gauge", "1 while at least one of the linked cluster's gateways answers probes.") {
            [("", $0.up ? "1" : "0")]
        }
        family("causeway_mirror_version", "gauge", "Version of the linked cluster's export table this proxy mirrors (0 before the first).") {
            [("", String($0.version ?? 0))]
        }
        family("causeway_mirror_age_seconds", "gauge", "Seconds since the mirror last heard from the linked gateway (-1 before the first message).") {
            [("", $0.ageSeconds.map { String(($0 * 1000).rounded() / 1000) } ?? "-1")]
        }
        family("causeway_mirror_resyncs_total", "counter", "Fresh snapshots applied after the first: reconnects and resynchronisations.") {
            [("", String($0.resyncs))]
        }
        family("causeway_mirror_services", "gauge", "Mirrored services by state (ready, not-ready, stale, expired).") { link in
            link.services.map { (",state=\"\($0.state)\"", String($0.count)) }
        }
        family("causeway_link_probe_failures_total", "counter", "Link probes that failed (connect, mTLS handshake or the gateway's SETTINGS).") {
            [("", String($0.probes.failures))]
        }
        out += "# HELP causeway_link_probe_duration_seconds Duration of successful link probes (connect, mTLS handshake, the gateway's SETTINGS).\n"
        out += "# TYPE causeway_link_probe_duration_seconds histogram\n"
        for link in mesh.links {
            out += link.probes.latency.render("causeway_link_probe_duration_seconds",
                                              labels: "\(c),link=\"\(PrometheusText.escape(link.cluster))\"")
        }
        out += "# HELP causeway_exports_version Version of the export table this gateway publishes.\n# TYPE causeway_exports_version gauge\n"
        out += "causeway_exports_version{\(c)} \(mesh.exportsVersion)\n"
        return out
    }
}
