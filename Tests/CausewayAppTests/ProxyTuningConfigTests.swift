import CausewayHTTP
import CausewayProxy
import Testing
@testable import CausewayApp

/// Loads `proxyYAML(extra)`, which must be valid, and returns its Proxy.
private func loadProxy(_ extra: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProxyConfig {
    try withTree(["causeway.yaml": proxyYAML(extra)]) { tree in
        switch tree.load() {
        case .success(let config): return config.proxy
        case .failure(let errors):
            Issue.record("expected the config to load, got:\n\(errors)", sourceLocation: sourceLocation)
            throw errors
        }
    }
}

/// One field set to a valid value, and what the loaded `ProxyConfig` must then hold there.
struct ValidValue: Sendable, CustomTestStringConvertible {
    let yaml: String
    let read: @Sendable (ProxyConfig) -> UInt64
    let expected: UInt64
    var testDescription: String { yaml.trimmingCharacters(in: .whitespacesAndNewlines) }

    init(_ yaml: String, _ read: @escaping @Sendable (ProxyConfig) -> UInt64, _ expected: UInt64) {
        self.yaml = yaml
        self.read = read
        self.expected = expected
    }
}

private let second: UInt64 = 1_000_000_000
private let milli: UInt64 = 1_000_000

@Suite("Proxy timeouts, limits and header field cap")
struct ProxyTuningConfigTests {
    // MARK: Defaults

    @Test("absent blocks give the engine's defaults, as documented")
    func defaults() throws {
        let proxy = try loadProxy("")
        #expect(proxy.timeouts == ProxyTimeouts())
        #expect(proxy.limits == ProxyLimits())
        #expect(proxy.http2 == H2Settings())
        // The documented values, so a changed engine default is noticed here and in the docs.
        #expect(proxy.timeouts.requestHeadersNanos == 10 * second)
        #expect(proxy.timeouts.streamIdleNanos == 300 * second)
        #expect(proxy.timeouts.requestNanos == 0)
        #expect(proxy.timeouts.drainNanos == 10 * second)
        #expect(proxy.timeouts.maxConnectionAgeNanos == 0)
        #expect(proxy.timeouts.downstreamIdleNanos == 300 * second)
        #expect(proxy.timeouts.handshakeNanos == 10 * second)
        #expect(proxy.limits.maxDownstreamConnectionsPerWorker == 10_000)
        #expect(proxy.limits.maxBufferedResponseBytesPerConnection == 32 << 20)
        #expect(proxy.http2.maxHeaderFields == 100)
        #expect(proxy.listeners.map(\.accessLog) == [false])
    }

    @Test("empty and null blocks give the defaults too", arguments: [
        "  timeouts: {}\n  limits: {}\n  http2: {}\n", "  timeouts:\n  limits: ~\n  http2: null\n",
    ])
    func emptyBlocks(extra: String) throws {
        let proxy = try loadProxy(extra)
        #expect(proxy.timeouts == ProxyTimeouts())
        #expect(proxy.limits == ProxyLimits())
        #expect(proxy.http2 == H2Settings())
    }

    @Test("setting one field leaves the others at their defaults")
    func oneField() throws {
        let proxy = try loadProxy("  timeouts: { idle: 1m }\n  limits: { maxConnectionsPerWorker: 5 }\n  http2: { maxHeaderFields: 50 }\n")
        var timeouts = ProxyTimeouts()
        timeouts.downstreamIdleNanos = 60 * second
        #expect(proxy.timeouts == timeouts)
        var limits = ProxyLimits()
        limits.maxDownstreamConnectionsPerWorker = 5
        #expect(proxy.limits == limits)
        var http2 = H2Settings()
        http2.maxHeaderFields = 50
        #expect(proxy.http2 == http2)
    }

    // MARK: Valid values, range ends included

    static let validValues: [ValidValue] = [
        ValidValue("  timeouts: { requestHeaders: 100ms }\n", { $0.timeouts.requestHeadersNanos }, 100 * milli),
        ValidValue("  timeouts: { requestHeaders: 5m }\n", { $0.timeouts.requestHeadersNanos }, 300 * second),
        ValidValue("  timeouts: { streamIdle: 1s }\n", { $0.timeouts.streamIdleNanos }, second),
        ValidValue("  timeouts: { streamIdle: 24h }\n", { $0.timeouts.streamIdleNanos }, 86_400 * second),
        ValidValue("  timeouts: { request: 0s }\n", { $0.timeouts.requestNanos }, 0),
        ValidValue("  timeouts: { request: 0ms }\n", { $0.timeouts.requestNanos }, 0),
        ValidValue("  timeouts: { request: 100ms }\n", { $0.timeouts.requestNanos }, 100 * milli),
        ValidValue("  timeouts: { request: 24h }\n", { $0.timeouts.requestNanos }, 86_400 * second),
        ValidValue("  timeouts: { drain: 1s }\n", { $0.timeouts.drainNanos }, second),
        ValidValue("  timeouts: { drain: 1h }\n", { $0.timeouts.drainNanos }, 3_600 * second),
        ValidValue("  timeouts: { maxConnectionAge: 0s }\n", { $0.timeouts.maxConnectionAgeNanos }, 0),
        ValidValue("  timeouts: { maxConnectionAge: 10s }\n", { $0.timeouts.maxConnectionAgeNanos }, 10 * second),
        ValidValue("  timeouts: { maxConnectionAge: 720h }\n", { $0.timeouts.maxConnectionAgeNanos }, 30 * 86_400 * second),
        ValidValue("  timeouts: { idle: 1s }\n", { $0.timeouts.downstreamIdleNanos }, second),
        ValidValue("  timeouts: { idle: 24h }\n", { $0.timeouts.downstreamIdleNanos }, 86_400 * second),
        ValidValue("  timeouts: { handshake: 100ms }\n", { $0.timeouts.handshakeNanos }, 100 * milli),
        ValidValue("  timeouts: { handshake: 5m }\n", { $0.timeouts.handshakeNanos }, 300 * second),
        ValidValue("  limits: { maxConnectionsPerWorker: 1 }\n", { UInt64($0.limits.maxDownstreamConnectionsPerWorker) }, 1),
        ValidValue("  limits: { maxConnectionsPerWorker: 1000000 }\n", { UInt64($0.limits.maxDownstreamConnectionsPerWorker) }, 1_000_000),
        ValidValue("  limits: { maxBufferedResponseBytesPerConnection: 65536 }\n",
                   { UInt64($0.limits.maxBufferedResponseBytesPerConnection) }, 65_536),
        ValidValue("  limits: { maxBufferedResponseBytesPerConnection: 1073741824 }\n",
                   { UInt64($0.limits.maxBufferedResponseBytesPerConnection) }, 1 << 30),
        ValidValue("  http2: { maxHeaderFields: 8 }\n", { UInt64($0.http2.maxHeaderFields) }, 8),
        ValidValue("  http2: { maxHeaderFields: 10000 }\n", { UInt64($0.http2.maxHeaderFields) }, 10_000),
        ValidValue("  upstream: { connectTimeout: 250ms }\n", { $0.upstream.connectTimeoutNanos }, 250 * milli),
        ValidValue("  upstream: { idleTimeout: 2m }\n", { $0.upstream.idleTimeoutNanos }, 120 * second),
    ]

    @Test("valid values, range ends included", arguments: validValues)
    func valid(_ value: ValidValue) throws {
        let proxy = try loadProxy(value.yaml)
        #expect(value.read(proxy) == value.expected)
    }

    // MARK: Invalid values

    static let timeoutCases: [ErrorCase] = [
        ErrorCase("requestHeaders below 100ms", config: proxyYAML("  timeouts:\n    requestHeaders: 50ms\n"),
                  ["causeway.yaml:12:21: spec.timeouts.requestHeaders: 50ms is out of range: must be between 100ms and 5m"]),
        ErrorCase("requestHeaders zero is not none", config: proxyYAML("  timeouts:\n    requestHeaders: 0s\n"),
                  ["causeway.yaml:12:21: spec.timeouts.requestHeaders: 0s is out of range: must be between 100ms and 5m"]),
        ErrorCase("requestHeaders above 5m", config: proxyYAML("  timeouts:\n    requestHeaders: 301s\n"),
                  ["causeway.yaml:12:21: spec.timeouts.requestHeaders: 301s is out of range: must be between 100ms and 5m"]),
        ErrorCase("requestHeaders an integer", config: proxyYAML("  timeouts:\n    requestHeaders: 10\n"),
                  ["causeway.yaml:12:21: spec.timeouts.requestHeaders: expected a duration such as 250ms, 1s, 2m or 1h, got the integer 10"]),
        ErrorCase("streamIdle below 1s", config: proxyYAML("  timeouts:\n    streamIdle: 999ms\n"),
                  ["causeway.yaml:12:17: spec.timeouts.streamIdle: 999ms is out of range: must be between 1s and 24h"]),
        ErrorCase("streamIdle above 24h", config: proxyYAML("  timeouts:\n    streamIdle: 25h\n"),
                  ["causeway.yaml:12:17: spec.timeouts.streamIdle: 25h is out of range: must be between 1s and 24h"]),
        ErrorCase("streamIdle not a duration", config: proxyYAML("  timeouts:\n    streamIdle: soon\n"),
                  ["causeway.yaml:12:17: spec.timeouts.streamIdle: \"soon\" is not a duration such as 250ms, 1s, 2m or 1h"]),
        ErrorCase("request between 0 and 100ms", config: proxyYAML("  timeouts:\n    request: 50ms\n"),
                  ["causeway.yaml:12:14: spec.timeouts.request: 50ms is out of range: must be 0s (none) or between 100ms and 24h"]),
        ErrorCase("request above 24h", config: proxyYAML("  timeouts:\n    request: 1441m\n"),
                  ["causeway.yaml:12:14: spec.timeouts.request: 1441m is out of range: must be 0s (none) or between 100ms and 24h"]),
        ErrorCase("request a boolean", config: proxyYAML("  timeouts:\n    request: false\n"),
                  ["causeway.yaml:12:14: spec.timeouts.request: expected a duration such as 250ms, 1s, 2m or 1h, got the boolean false"]),
        ErrorCase("drain below 1s", config: proxyYAML("  timeouts:\n    drain: 500ms\n"),
                  ["causeway.yaml:12:12: spec.timeouts.drain: 500ms is out of range: must be between 1s and 1h"]),
        ErrorCase("drain zero", config: proxyYAML("  timeouts:\n    drain: 0s\n"),
                  ["causeway.yaml:12:12: spec.timeouts.drain: 0s is out of range: must be between 1s and 1h"]),
        ErrorCase("drain above 1h", config: proxyYAML("  timeouts:\n    drain: 2h\n"),
                  ["causeway.yaml:12:12: spec.timeouts.drain: 2h is out of range: must be between 1s and 1h"]),
        ErrorCase("drain fractional", config: proxyYAML("  timeouts:\n    drain: 1.5s\n"),
                  ["causeway.yaml:12:12: spec.timeouts.drain: \"1.5s\" is not a duration such as 250ms, 1s, 2m or 1h"]),
        ErrorCase("maxConnectionAge below 10s", config: proxyYAML("  timeouts:\n    maxConnectionAge: 5s\n"),
                  ["causeway.yaml:12:23: spec.timeouts.maxConnectionAge: 5s is out of range: must be 0s (none) or between 10s and 720h"]),
        ErrorCase("maxConnectionAge above 30 days", config: proxyYAML("  timeouts:\n    maxConnectionAge: 721h\n"),
                  ["causeway.yaml:12:23: spec.timeouts.maxConnectionAge: 721h is out of range: must be 0s (none) or between 10s and 720h"]),
        ErrorCase("maxConnectionAge in days", config: proxyYAML("  timeouts:\n    maxConnectionAge: 30d\n"),
                  ["causeway.yaml:12:23: spec.timeouts.maxConnectionAge: \"30d\" is not a duration such as 250ms, 1s, 2m or 1h (there is no unit for days: write 720h)"]),
        ErrorCase("maxConnectionAge a list", config: proxyYAML("  timeouts:\n    maxConnectionAge: [1h]\n"),
                  ["causeway.yaml:12:23: spec.timeouts.maxConnectionAge: expected a duration such as 250ms, 1s, 2m or 1h, got a list"]),
        ErrorCase("idle below 1s", config: proxyYAML("  timeouts:\n    idle: 100ms\n"),
                  ["causeway.yaml:12:11: spec.timeouts.idle: 100ms is out of range: must be between 1s and 24h"]),
        ErrorCase("idle above 24h", config: proxyYAML("  timeouts:\n    idle: 86401s\n"),
                  ["causeway.yaml:12:11: spec.timeouts.idle: 86401s is out of range: must be between 1s and 24h"]),
        ErrorCase("idle null-like string", config: proxyYAML("  timeouts:\n    idle: \"\"\n"),
                  ["causeway.yaml:12:11: spec.timeouts.idle: \"\" is not a duration such as 250ms, 1s, 2m or 1h"]),
        ErrorCase("handshake below 100ms", config: proxyYAML("  timeouts:\n    handshake: 99ms\n"),
                  ["causeway.yaml:12:16: spec.timeouts.handshake: 99ms is out of range: must be between 100ms and 5m"]),
        ErrorCase("handshake above 5m", config: proxyYAML("  timeouts:\n    handshake: 6m\n"),
                  ["causeway.yaml:12:16: spec.timeouts.handshake: 6m is out of range: must be between 100ms and 5m"]),
        ErrorCase("handshake an integer", config: proxyYAML("  timeouts:\n    handshake: 5\n"),
                  ["causeway.yaml:12:16: spec.timeouts.handshake: expected a duration such as 250ms, 1s, 2m or 1h, got the integer 5"]),
    ]

    static let limitCases: [ErrorCase] = [
        ErrorCase("maxConnectionsPerWorker zero", config: proxyYAML("  limits:\n    maxConnectionsPerWorker: 0\n"),
                  ["causeway.yaml:12:30: spec.limits.maxConnectionsPerWorker: 0 is out of range: must be between 1 and 1000000"]),
        ErrorCase("maxConnectionsPerWorker above a million", config: proxyYAML("  limits:\n    maxConnectionsPerWorker: 1000001\n"),
                  ["causeway.yaml:12:30: spec.limits.maxConnectionsPerWorker: 1000001 is out of range: must be between 1 and 1000000"]),
        ErrorCase("maxConnectionsPerWorker a string", config: proxyYAML("  limits:\n    maxConnectionsPerWorker: many\n"),
                  ["causeway.yaml:12:30: spec.limits.maxConnectionsPerWorker: expected an integer, got the string \"many\""]),
        ErrorCase("maxConnectionsPerWorker fractional", config: proxyYAML("  limits:\n    maxConnectionsPerWorker: 10.5\n"),
                  ["causeway.yaml:12:30: spec.limits.maxConnectionsPerWorker: expected a decimal integer, got 10.5"]),
        ErrorCase("maxBufferedResponseBytesPerConnection below 64 KiB", config: proxyYAML("  limits:\n    maxBufferedResponseBytesPerConnection: 65535\n"),
                  ["causeway.yaml:12:44: spec.limits.maxBufferedResponseBytesPerConnection: 65535 is out of range: must be between 65536 and 1073741824"]),
        ErrorCase("maxBufferedResponseBytesPerConnection above 1 GiB", config: proxyYAML("  limits:\n    maxBufferedResponseBytesPerConnection: 1073741825\n"),
                  ["causeway.yaml:12:44: spec.limits.maxBufferedResponseBytesPerConnection: 1073741825 is out of range: must be between 65536 and 1073741824"]),
        ErrorCase("maxBufferedResponseBytesPerConnection negative", config: proxyYAML("  limits:\n    maxBufferedResponseBytesPerConnection: -1\n"),
                  ["causeway.yaml:12:44: spec.limits.maxBufferedResponseBytesPerConnection: -1 is out of range: must be between 65536 and 1073741824"]),
        ErrorCase("maxBufferedResponseBytesPerConnection with a suffix", config: proxyYAML("  limits:\n    maxBufferedResponseBytesPerConnection: 32Mi\n"),
                  ["causeway.yaml:12:44: spec.limits.maxBufferedResponseBytesPerConnection: expected a number of bytes, got the string \"32Mi\"; suffixes are not read here: write 33554432"]),
        ErrorCase("maxBufferedResponseBytesPerConnection quoted", config: proxyYAML("  limits:\n    maxBufferedResponseBytesPerConnection: \"65536\"\n"),
                  ["causeway.yaml:12:44: spec.limits.maxBufferedResponseBytesPerConnection: expected an integer, got the string \"65536\""]),
    ]

    static let maxHeaderFieldsCases: [ErrorCase] = [
        ErrorCase("maxHeaderFields below 8", config: proxyYAML("  http2:\n    maxHeaderFields: 7\n"),
                  ["causeway.yaml:12:22: spec.http2.maxHeaderFields: 7 is out of range: must be between 8 and 10000"]),
        ErrorCase("maxHeaderFields above 10000", config: proxyYAML("  http2:\n    maxHeaderFields: 10001\n"),
                  ["causeway.yaml:12:22: spec.http2.maxHeaderFields: 10001 is out of range: must be between 8 and 10000"]),
        ErrorCase("maxHeaderFields a string", config: proxyYAML("  http2:\n    maxHeaderFields: lots\n"),
                  ["causeway.yaml:12:22: spec.http2.maxHeaderFields: expected an integer, got the string \"lots\""]),
    ]

    static let blockCases: [ErrorCase] = [
        ErrorCase("timeouts not a mapping", config: proxyYAML("  timeouts: 10s\n"),
                  ["causeway.yaml:11:13: spec.timeouts: expected a mapping, got the string \"10s\""]),
        ErrorCase("timeouts unknown field with a suggestion", config: proxyYAML("  timeouts:\n    requestHeader: 10s\n"),
                  ["causeway.yaml:12:5: spec.timeouts.requestHeader: unknown field \"requestHeader\" (did you mean \"requestHeaders\"?)"]),
        ErrorCase("timeouts unknown field", config: proxyYAML("  timeouts:\n    connect: 1s\n"),
                  ["causeway.yaml:12:5: spec.timeouts.connect: unknown field \"connect\"; known fields: requestHeaders, streamIdle, request, drain, maxConnectionAge, idle, handshake"]),
        ErrorCase("limits not a mapping", config: proxyYAML("  limits: [ 1 ]\n"),
                  ["causeway.yaml:11:11: spec.limits: expected a mapping, got a list"]),
        ErrorCase("limits unknown field", config: proxyYAML("  limits:\n    maxStreams: 10\n"),
                  ["causeway.yaml:12:5: spec.limits.maxStreams: unknown field \"maxStreams\"; known fields: maxConnectionsPerWorker, maxBufferedResponseBytesPerConnection"]),
        ErrorCase("every bad field is reported at once",
                  config: proxyYAML("  timeouts: { drain: 0s, idle: 2d, handshake: 1m }\n  limits: { maxConnectionsPerWorker: 0 }\n  http2: { maxHeaderFields: 1 }\n"),
                  ["causeway.yaml:11:22: spec.timeouts.drain: 0s is out of range: must be between 1s and 1h",
                   "causeway.yaml:11:32: spec.timeouts.idle: \"2d\" is not a duration such as 250ms, 1s, 2m or 1h (there is no unit for days: write 48h)",
                   "causeway.yaml:12:38: spec.limits.maxConnectionsPerWorker: 0 is out of range: must be between 1 and 1000000",
                   "causeway.yaml:13:29: spec.http2.maxHeaderFields: 1 is out of range: must be between 8 and 10000"]),
    ]

    static let accessLogCases: [ErrorCase] = [
        ErrorCase("accessLog not a boolean", config: proxyYAML("    accessLog: maybe\n"),
                  ["causeway.yaml:11:16: spec.listeners[0].accessLog: expected true or false, got the string \"maybe\""]),
        ErrorCase("accessLog an integer", config: proxyYAML("    accessLog: 1\n"),
                  ["causeway.yaml:11:16: spec.listeners[0].accessLog: expected true or false, got the integer 1"]),
        ErrorCase("accessLog quoted", config: proxyYAML("    accessLog: \"true\"\n"),
                  ["causeway.yaml:11:16: spec.listeners[0].accessLog: expected true or false, got the string \"true\""]),
        ErrorCase("a bad accessLog still has its address checked",
                  config: proxyYAML("  - { name: second, role: sidecar, address: \"127.0.0.1:15001\", accessLog: 2 }\n"),
                  ["causeway.yaml:11:45: spec.listeners[1].address: address 127.0.0.1:15001 is already used by spec.listeners[0]",
                   "causeway.yaml:11:75: spec.listeners[1].accessLog: expected true or false, got the integer 2"]),
    ]

    @Test("spec.timeouts", arguments: timeoutCases)
    func timeouts(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.limits", arguments: limitCases)
    func limits(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.http2.maxHeaderFields", arguments: maxHeaderFieldsCases)
    func maxHeaderFields(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("the timeouts and limits blocks", arguments: blockCases)
    func blocks(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.listeners[].accessLog", arguments: accessLogCases)
    func accessLogErrors(_ errorCase: ErrorCase) throws { try check(errorCase) }

    // MARK: Listeners and the engine's settings

    @Test("accessLog reaches the listener config and the worker's ListenerSpec")
    func accessLog() throws {
        let proxy = try loadProxy("""
            accessLog: true
          - { name: quiet, role: sidecar, address: "127.0.0.1:15002", accessLog: false }
          - { name: yes-spelling, role: sidecar, address: "127.0.0.1:15003", accessLog: yes }
          - { name: unset, role: sidecar, address: "127.0.0.1:15004" }

        """)
        #expect(proxy.listeners.map(\.name) == ["outbound", "quiet", "yes-spelling", "unset"])
        #expect(proxy.listeners.map(\.accessLog) == [true, false, true, false])
        let specs = proxy.listeners.enumerated().map { SnapshotBuilder.listenerSpec($0.element, fd: Int32(10 + $0.offset)) }
        #expect(specs.map(\.accessLog) == [true, false, true, false])
        #expect(specs.map(\.name) == ["outbound", "quiet", "yes-spelling", "unset"])
        #expect(specs.map(\.fd) == [10, 11, 12, 13])
        #expect(specs.allSatisfy { $0.role == .sidecar })
    }

    @Test("a gateway listener's role reaches its ListenerSpec")
    func gatewayRole() throws {
        let config = proxyYAML("""
              - { name: east-west, role: gateway, address: "0.0.0.0:15443" }
              tls: { trustBundle: certs/root.pem, certificateChain: certs/chain.pem, privateKey: certs/key.pem }

            """)
        let proxy = try withTree(certFiles.merging(["causeway.yaml": config]) { a, _ in a }) { try $0.load().get().proxy }
        #expect(proxy.listeners.map(\.role) == [.sidecar, .gateway])
        #expect(proxy.listeners.map { SnapshotBuilder.listenerSpec($0, fd: 3).role } == [.sidecar, .gateway])
    }

    @Test("the snapshot's settings carry timeouts, limits, HTTP/2 settings and upstream nanoseconds")
    func snapshotSettings() throws {
        let config = try withTree(["causeway.yaml": proxyYAML("""
              timeouts: { requestHeaders: 3s, streamIdle: 2m, request: 90s, drain: 30s, maxConnectionAge: 12h, idle: 45s, handshake: 4s }
              limits: { maxConnectionsPerWorker: 2048, maxBufferedResponseBytesPerConnection: 1048576 }
              http2: { maxConcurrentStreams: 64, initialStreamWindow: 131072, connectionWindow: 4194304, maxHeaderListSize: 16384, maxHeaderFields: 40 }
              upstream: { connectTimeout: 750ms, idleTimeout: 90s, maxConnectionsPerEndpoint: 4 }

            """)]) { try $0.load().get() }
        var mesh = MeshState(config: config, tls: nil)
        let settings = mesh.snapshot(now: 0).snapshot.settings
        #expect(settings.cluster == "cluster1")
        #expect(settings.timeouts.requestHeadersNanos == 3 * second)
        #expect(settings.timeouts.streamIdleNanos == 120 * second)
        #expect(settings.timeouts.requestNanos == 90 * second)
        #expect(settings.timeouts.drainNanos == 30 * second)
        #expect(settings.timeouts.maxConnectionAgeNanos == 12 * 3_600 * second)
        #expect(settings.timeouts.downstreamIdleNanos == 45 * second)
        #expect(settings.timeouts.handshakeNanos == 4 * second)
        #expect(settings.downstreamIdleTimeoutNanos == 45 * second)
        #expect(settings.handshakeTimeoutNanos == 4 * second)
        #expect(settings.limits.maxDownstreamConnectionsPerWorker == 2_048)
        #expect(settings.limits.maxBufferedResponseBytesPerConnection == 1 << 20)
        let h2 = H2Settings(maxConcurrentStreams: 64, initialStreamWindow: 131_072, connectionWindow: 4_194_304,
                            maxHeaderListSize: 16_384, maxHeaderFields: 40)
        #expect(settings.downstreamHTTP2 == h2)
        #expect(settings.upstreamHTTP2 == h2)
        #expect(settings.downstreamHTTP2.maxHeaderFields == 40)
        #expect(settings.upstreamHTTP2.maxHeaderFields == 40)
        #expect(settings.connectTimeoutNanos == 750 * milli)
        #expect(settings.idleTimeoutNanos == 90 * second)
        #expect(settings.maxConnectionsPerEndpoint == 4)
    }

    @Test("the snapshot of a minimal config has the engine's default settings")
    func snapshotDefaults() throws {
        let config = try withTree(["causeway.yaml": proxyYAML()]) { try $0.load().get() }
        let settings = SnapshotBuilder.settings(config.proxy)
        #expect(settings.timeouts == ProxyTimeouts())
        #expect(settings.limits == ProxyLimits())
        #expect(settings.downstreamHTTP2 == H2Settings())
        #expect(settings.upstreamHTTP2 == H2Settings())
        #expect(settings.connectTimeoutNanos == second)
        #expect(settings.idleTimeoutNanos == 60 * second)
    }

    @Test("the effective configuration shows the new fields")
    func effectiveConfig() throws {
        let config = try withTree(["causeway.yaml": proxyYAML("""
                accessLog: true
              timeouts: { request: 90s, maxConnectionAge: 720h }
              limits: { maxBufferedResponseBytesPerConnection: 1048576 }
              http2: { maxHeaderFields: 40 }

            """)]) { try $0.load().get() }
        let json = EffectiveConfig.json(config)
        #expect(json.contains("""
                "timeouts": {
                  "requestHeadersMillis": 10000,
                  "streamIdleMillis": 300000,
                  "requestMillis": 90000,
                  "drainMillis": 10000,
                  "maxConnectionAgeMillis": 2592000000,
                  "idleMillis": 300000,
                  "handshakeMillis": 10000
                },
                "limits": {
                  "maxConnectionsPerWorker": 10000,
                  "maxBufferedResponseBytesPerConnection": 1048576
                }
            """))
        #expect(json.contains("\"maxHeaderFields\": 40"))
        #expect(json.contains("\"address\": \"127.0.0.1:15001\",\n      \"accessLog\": true"))
    }
}
