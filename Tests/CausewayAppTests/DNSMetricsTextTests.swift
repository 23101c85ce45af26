import Testing
@testable import CausewayApp

/// The DNS server's metrics as `/metrics` shows them: one family per name, each series with
/// `cluster`, the query outcomes as labels of one counter.
@Suite("DNS metrics text")
struct DNSMetricsTextTests {
    @Test("families, labels and values")
    func rendering() {
        let stats = DNSStats()
        stats.count(.mesh, 3)
        stats.count(.malformed)
        stats.count(.truncated, 2)
        stats.set(.pendingForwards, 5)
        stats.set(.pendingForwards, 4)
        let text = DNSMetricsText.render(stats.snapshot(), cluster: "c\"1")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0 == "# TYPE causeway_dns_queries_total counter" }.count == 1)
        #expect(lines.contains("causeway_dns_queries_total{cluster=\"c\\\"1\",outcome=\"mesh\"} 3"))
        #expect(lines.contains("causeway_dns_queries_total{cluster=\"c\\\"1\",outcome=\"malformed\"} 1"))
        #expect(lines.contains("causeway_dns_queries_total{cluster=\"c\\\"1\",outcome=\"upstream-timeout\"} 0"))
        #expect(lines.contains("causeway_dns_truncated_total{cluster=\"c\\\"1\"} 2"))
        #expect(lines.contains("# TYPE causeway_dns_forwards_pending gauge"))
        #expect(lines.contains("causeway_dns_forwards_pending{cluster=\"c\\\"1\"} 4"))
        // Every outcome once, and the samples of a family together (the text format's rule).
        let outcomes = DNSMetric.allCases.compactMap(\.outcome)
        #expect(Set(outcomes).count == outcomes.count)
        var seen: [String] = []
        for line in lines where !line.hasPrefix("#") {
            let family = String(line.prefix { $0 != "{" })
            if seen.last != family {
                #expect(!seen.contains(family), "\(family) is split")
                seen.append(family)
            }
        }
        #expect(seen.count == 5)
    }
}
