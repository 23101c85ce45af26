import CausewayMesh
import Testing
@testable import CausewayApp

/// `spec.mirror` and `spec.upstreamClusterHeader`: values read, bad ones refused with file,
/// line, column and field.
@Suite("Proxy mirror settings and the provenance header switch")
struct MirrorConfigTests {
    private static let second: UInt64 = 1_000_000_000

    @Test("defaults, and every field read")
    func values() throws {
        let defaults = try withTree(["causeway.yaml": proxyYAML()]) { try $0.load().get() }
        #expect(defaults.proxy.mirror == MirrorConfig())
        #expect(defaults.proxy.mirror.stream.heartbeatNanos == 5 * Self.second)
        #expect(defaults.proxy.mirror.lease == ClusterMirror.LeasePolicy(staleAfterNanos: 30 * Self.second, removeAfterNanos: 300 * Self.second))
        #expect(defaults.proxy.upstreamClusterHeader)
        let set = try withTree(["causeway.yaml": proxyYAML("  mirror: { heartbeat: 250ms, staleAfter: 2s, removeAfter: 4s }\n  upstreamClusterHeader: false\n")]) {
            try $0.load().get()
        }
        #expect(set.proxy.mirror.stream.heartbeatNanos == 250_000_000)
        #expect(set.proxy.mirror.lease == ClusterMirror.LeasePolicy(staleAfterNanos: 2 * Self.second, removeAfterNanos: 4 * Self.second))
        #expect(!set.proxy.upstreamClusterHeader)
    }

    static let cases: [ErrorCase] = [
        ErrorCase("heartbeat below the range a subscriber accepts", config: proxyYAML("  mirror: { heartbeat: 50ms }\n"),
                  ["causeway.yaml:11:24: spec.mirror.heartbeat: 50ms is out of range: must be between 100ms and 1h"]),
        ErrorCase("removed before stale", config: proxyYAML("  mirror: { staleAfter: 1m, removeAfter: 30s }\n"),
                  ["causeway.yaml:11:42: spec.mirror.removeAfter: removeAfter (30000 ms) must not be shorter than staleAfter (60000 ms): entries turn stale before they are removed"]),
        ErrorCase("unknown mirror field", config: proxyYAML("  mirror: { heartbeats: 5s }\n"),
                  ["causeway.yaml:11:13: spec.mirror.heartbeats: unknown field \"heartbeats\" (did you mean \"heartbeat\"?)"]),
        ErrorCase("provenance switch not a boolean", config: proxyYAML("  upstreamClusterHeader: sometimes\n"),
                  ["causeway.yaml:11:26: spec.upstreamClusterHeader: expected true or false, got the string \"sometimes\""]),
    ]

    @Test("refusals", arguments: cases)
    func refusals(_ errorCase: ErrorCase) throws { try check(errorCase) }
}
