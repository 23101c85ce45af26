/// Renders the DNS server's metrics (Prometheus text, every series with `cluster`), one
/// family per `DNSMetric.name`, in declaration order.
enum DNSMetricsText {
    static func render(_ values: [UInt64], cluster: String) -> String {
        let c = "cluster=\"\(PrometheusText.escape(cluster))\""
        var out = ""
        var started: Set<String> = []
        for metric in DNSMetric.allCases {
            if started.insert(metric.name).inserted {
                out += "# HELP \(metric.name) \(metric.help)\n# TYPE \(metric.name) \(metric.isGauge ? "gauge" : "counter")\n"
            }
            let labels = metric.outcome.map { "\(c),outcome=\"\($0)\"" } ?? c
            out += "\(metric.name){\(labels)} \(values[metric.rawValue])\n"
        }
        return out
    }
}
