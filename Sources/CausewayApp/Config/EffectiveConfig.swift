import CausewayMesh

/// The configuration as the proxy understood it, defaults filled in: what `/config` on the
/// admin port and `causeway validate` print.
public enum EffectiveConfig {
    /// Pretty JSON with a fixed key order: proxy settings, listeners, admin, links, exports
    /// (`name.namespace`, sorted), services (with their endpoints and, for mirrors, remote name
    /// and expected identity), the traffic policies (`routes`, `destinationRules`,
    /// `authorizationPolicies`), then the files and folders read and, from a running proxy,
    /// the outcome of its latest reload (`lastReload`: status `applied` or `rejected`, time,
    /// trigger, problems with file, line, column and field; null before the first).
    /// Durations are in milliseconds (`...Millis`); fields keep the configuration's names
    /// (`timeouts.idleMillis`, `limits.maxConnectionsPerWorker`).
    /// `notes`: what composing the running snapshot noticed (backendRefs naming no known
    /// Service, conflicting exports, mirrors shadowed by files), shown last.
    public static func json(_ config: LoadedConfig, lastReload: ReloadOutcome? = nil, notes: [String] = []) -> String {
        let proxy = config.proxy
        let tls: JSONValue = proxy.tls.map { tls in
            .object([
                ("trustBundle", .string(tls.trustBundle)),
                ("certificateChain", .string(tls.certificateChain)),
                ("privateKey", .string(tls.privateKey)),
                ("rotationGracePeriodMillis", millis(tls.rotationGracePeriodNanos)),
            ])
        } ?? .null
        let settings: JSONValue = .object([
            ("name", .string(proxy.name)),
            ("cluster", .string(proxy.cluster)),
            ("trustDomain", .string(proxy.trustDomain)),
            ("namespace", .string(proxy.namespace)),
            ("workers", .int(proxy.workers)),
            ("watch", .bool(proxy.watch)),
            ("tls", tls),
            ("http2", .object([
                ("maxConcurrentStreams", .int(Int(proxy.http2.maxConcurrentStreams))),
                ("initialStreamWindow", .int(Int(proxy.http2.initialStreamWindow))),
                ("connectionWindow", .int(Int(proxy.http2.connectionWindow))),
                ("maxHeaderListSize", .int(Int(proxy.http2.maxHeaderListSize))),
                ("maxHeaderFields", .int(Int(proxy.http2.maxHeaderFields))),
            ])),
            ("upstream", .object([
                ("connectTimeoutMillis", millis(proxy.upstream.connectTimeoutNanos)),
                ("idleTimeoutMillis", millis(proxy.upstream.idleTimeoutNanos)),
                ("maxConnectionsPerEndpoint", .int(proxy.upstream.maxConnectionsPerEndpoint)),
            ])),
            ("timeouts", .object([
                ("requestHeadersMillis", millis(proxy.timeouts.requestHeadersNanos)),
                ("streamIdleMillis", millis(proxy.timeouts.streamIdleNanos)),
                ("requestMillis", millis(proxy.timeouts.requestNanos)),
                ("drainMillis", millis(proxy.timeouts.drainNanos)),
                ("maxConnectionAgeMillis", millis(proxy.timeouts.maxConnectionAgeNanos)),
                ("idleMillis", millis(proxy.timeouts.downstreamIdleNanos)),
                ("handshakeMillis", millis(proxy.timeouts.handshakeNanos)),
            ])),
            ("limits", .object([
                ("maxConnectionsPerWorker", .int(proxy.limits.maxDownstreamConnectionsPerWorker)),
                ("maxBufferedResponseBytesPerConnection", .int(proxy.limits.maxBufferedResponseBytesPerConnection)),
            ])),
            ("capture", .object([
                ("mark", .int(Int(proxy.capture.mark))),
                ("excludePorts", .array(proxy.capture.excludePorts.map { .int(Int($0)) })),
                ("excludeCIDRs", .array(proxy.capture.excludeCIDRs.map { .string($0.description) })),
                ("includeCIDRs", .array(proxy.capture.includeCIDRs.map { .string($0.description) })),
                ("excludeUIDs", .array(proxy.capture.excludeUIDs.map { .int(Int($0)) })),
                ("sniffTimeoutMillis", millis(proxy.capture.sniffTimeoutNanos)),
                ("passthroughIdleTimeoutMillis", millis(proxy.capture.passthroughIdleTimeoutNanos)),
            ])),
        ])
        let listeners: JSONValue = .array(proxy.listeners.map { listener in
            .object([
                ("name", .string(listener.name)),
                ("role", .string(listener.role.configName)),
                ("address", .string(listener.address.description)),
                ("accessLog", .bool(listener.accessLog)),
            ])
        })
        let links: JSONValue = .array(config.links.map { link in
            .object([
                ("name", .string(link.name)),
                ("cluster", .string(link.cluster)),
                ("gateways", .array(link.gateways.map { .string($0.description) })),
                ("identity", .string(link.identity)),
                ("probe", .object([
                    ("periodMillis", .int(link.probe.periodMillis)),
                    ("timeoutMillis", .int(link.probe.timeoutMillis)),
                    ("failureThreshold", .int(link.probe.failureThreshold)),
                ])),
            ])
        })
        let exports: JSONValue = .array(
            config.exports.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }.map { .string($0.description) })
        let services: JSONValue = .array(config.services.services.map { service in
            .object([
                ("index", .int(service.index)),
                ("name", .string(service.key.name)),
                ("namespace", .string(service.key.namespace)),
                ("exported", .bool(service.exported)),
                ("sourceCluster", service.sourceCluster.map(JSONValue.string) ?? .null),
                ("remoteName", service.remoteName.map { .string($0.description) } ?? .null),
                ("expectedIdentity", service.expectedIdentity.map(JSONValue.string) ?? .null),
                ("totalEndpoints", .int(service.totalEndpoints)),
                ("readyEndpoints", .array(service.readyEndpoints.map { .string($0.description) })),
            ])
        })
        return JSONValue.object([
            ("proxy", settings),
            ("listeners", listeners),
            ("admin", .object([("address", .string(proxy.admin.description))])),
            ("dns", proxy.dns.map(dnsJSON) ?? .null),
            ("links", links),
            ("exports", exports),
            ("services", services),
            ("routes", routes(config.policies.routes, parentRefs: config.routeParentRefs)),
            ("destinationRules", destinationRules(config.policies.destinations)),
            ("authorizationPolicies", authorizationPolicies(config.policies.authorizations)),
            ("files", .array(config.files.map(JSONValue.string))),
            ("folders", .array(config.folders.map(JSONValue.string))),
            ("lastReload", lastReload?.json ?? .null),
            ("notes", .array(notes.map(JSONValue.string))),
        ]).pretty()
    }

    /// `spec.dns` with its defaults, the upstream as the address in use and the resolv.conf
    /// it came from (null when written as an address).
    private static func dnsJSON(_ dns: DNSConfig) -> JSONValue {
        .object([
            ("address", .string(dns.address.description)),
            ("virtualIPs", .string(dns.virtualIPs.description)),
            ("virtualIPv6s", dns.virtualIPv6s.map { .string($0.description) } ?? .null),
            ("upstream", .string(dns.upstream.address.description)),
            ("upstreamResolvConf", dns.upstream.resolvConf.map(JSONValue.string) ?? .null),
            ("upstreamTimeoutMillis", millis(dns.upstreamTimeoutNanos)),
        ])
    }

    static func millis(_ nanos: UInt64) -> JSONValue {
        .int(DurationText.millis(fromNanos: nanos))
    }
}
