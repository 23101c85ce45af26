import CausewayMesh
import Yams

/// Validates a `DestinationRule` (`networking.istio.io/v1`, also `v1beta1` and `v1alpha3`):
/// connection limits (circuit breaking), outlier ejection, the balancing algorithm and the
/// order in which other clusters take over, for one Service.
///
/// `host` names one Service as Kubernetes DNS would from the rule's namespace; wildcards,
/// other domains and IPs are refused. Istio fields this version does not apply (`subsets`,
/// `tls`, `consistentHash`, ...) are refused with the reason. `loadBalancer.failoverPriority`
/// is Causeway's own field (cluster names), not Istio's label list.
enum DestinationRuleDocument {
    static let apiVersions = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]

    /// A rule as read: its identity and host (for duplicates) and, when it had no problem,
    /// its value.
    struct Draft {
        let origin: PolicyReading.Origin
        let host: ServiceKey?
        let hostMark: Mark?
        let rule: DestinationPolicy?
    }

    static let limitRange = 1...1_000_000
    static let maxRequestsPerConnectionRange = 0...1_000_000
    static let consecutiveRange = 0...1_000_000
    static let percentRange = 0...100
    /// Durations, ms.
    static let connectTimeoutRange = 1...60_000
    static let idleTimeoutRange = 1_000...86_400_000
    static let intervalRange = 1...3_600_000
    static let baseEjectionTimeRange = 1...3_600_000
    /// The cap on one ejection when the base is shorter (Envoy's `max_ejection_time` default).
    static let defaultMaxEjectionNanos: UInt64 = 300_000_000_000

    private static let specUnsupported: [(name: String, why: String)] = [
        ("subsets", "Causeway sends to a Service's endpoints as a whole (it has no pod labels); split traffic between Services with an HTTPRoute"),
        ("exportTo", "a DestinationRule applies in every proxy that reads it"),
        ("workloadSelector", "a DestinationRule applies to every caller of this proxy"),
    ]
    private static let trafficPolicyUnsupported: [(name: String, why: String)] = [
        ("portLevelSettings", "the settings apply to every port of the Service"),
        ("tls", "the proxy chooses the transport itself: mTLS with the mesh's certificates to other clusters, h2c to local endpoints"),
    ]
    private static let loadBalancerUnsupported: [(name: String, why: String)] = [
        ("consistentHash", "use simple: LEAST_REQUEST, ROUND_ROBIN or RANDOM"),
        ("localityLbSetting", "order other clusters with failoverPriority (cluster names, a Causeway field)"),
    ]

    static func read(_ root: Node, reader: NodeReader, clusterDomain: String = "cluster.local") -> Draft? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata", "spec"]) else {
            return nil
        }
        let origin = PolicyReading.origin(top, reader: reader)
        guard let specNode = top["spec"],
              let spec = reader.fields(specNode, top.field("spec"), allowed: ["host", "trafficPolicy"] + PolicyReading.names(specUnsupported),
                                       required: ["host"])
        else { return origin.map { Draft(origin: $0, host: nil, hostMark: nil, rule: nil) } }
        PolicyReading.refuse(spec, specUnsupported, reader: reader)
        let namespace = origin?.namespace ?? "default"
        let host = spec["host"].flatMap { readHost($0, spec.field("host"), namespace: namespace, clusterDomain: clusterDomain, reader: reader) }

        var policy = Settings()
        if let node = spec["trafficPolicy"] {
            readTrafficPolicy(node, spec.field("trafficPolicy"), into: &policy, reader: reader)
        }
        guard let origin else { return nil }
        guard reader.log.count == problemsBefore, let host else {
            return Draft(origin: origin, host: host, hostMark: spec["host"]?.mark, rule: nil)
        }
        let rule = DestinationPolicy(
            name: origin.name, namespace: origin.namespace, host: host, limits: policy.limits,
            connectTimeoutNanos: policy.connectTimeoutNanos, idleTimeoutNanos: policy.idleTimeoutNanos,
            maxRequestsPerConnection: policy.maxRequestsPerConnection, outlierDetection: policy.outlierDetection,
            loadBalancer: policy.loadBalancer, failoverPriority: policy.failoverPriority)
        return Draft(origin: origin, host: host, hostMark: spec["host"]?.mark, rule: rule)
    }

    /// `trafficPolicy` as read so far; the defaults of `DestinationPolicy`.
    private struct Settings {
        var limits = CircuitBreakerLimits()
        var connectTimeoutNanos: UInt64?
        var idleTimeoutNanos: UInt64?
        var maxRequestsPerConnection = 0
        var outlierDetection: OutlierPolicy?
        var loadBalancer = LoadBalancerKind.leastRequest
        var failoverPriority: [String] = []
    }

    // MARK: host

    /// The Service `text` names from `namespace`, as Kubernetes DNS resolves it: `name`,
    /// `name.ns`, `name.ns.svc`, `name.ns.svc.<cluster domain>`, and the clusterset name
    /// `name.ns.svc.clusterset.local`.
    static func serviceKey(host text: String, namespace: String, clusterDomain: String = "cluster.local") -> ServiceKey? {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let name = labels.first, NameRules.isServiceName(name) else { return nil }
        if labels.count == 1 { return ServiceKey(namespace: namespace, name: name) }
        guard NameRules.isDNSLabel(labels[1]) else { return nil }
        let key = ServiceKey(namespace: labels[1], name: name)
        if labels.count == 2 { return key }
        guard labels[2] == "svc" else { return nil }
        let domain = labels.dropFirst(3).joined(separator: ".")
        switch domain {
        case "": return key
        case clusterDomain: return key
        case ServiceKey.clustersetDomain: return key.inClusterset
        default: return nil
        }
    }

    private static func readHost(_ node: Node, _ path: FieldPath, namespace: String, clusterDomain: String, reader: NodeReader) -> ServiceKey? {
        guard let text = reader.string(node, path) else { return nil }
        if let key = serviceKey(host: text, namespace: namespace, clusterDomain: clusterDomain) { return key }
        let why: String
        if text.contains("*") {
            why = "is a wildcard host, which is not supported: a DestinationRule names one Service"
        } else if IPAddress(text) != nil {
            why = "is an IP address, not a Service name: a DestinationRule names one Service"
        } else {
            why = "is not a name of a Service: write webapp, webapp.\(namespace), webapp.\(namespace).svc, "
                + "webapp.\(namespace).svc.\(clusterDomain) or webapp.\(namespace).svc.\(ServiceKey.clustersetDomain) "
                + "(lowercase, no trailing dot; other domains are not served)"
        }
        reader.report(node, path, "\"\(text)\" \(why)")
        return nil
    }

    // MARK: trafficPolicy

    private static func readTrafficPolicy(_ node: Node, _ path: FieldPath, into policy: inout Settings, reader: NodeReader) {
        guard let fields = reader.fields(node, path, allowed: ["connectionPool", "outlierDetection", "loadBalancer"]
                                             + PolicyReading.names(trafficPolicyUnsupported))
        else { return }
        PolicyReading.refuse(fields, trafficPolicyUnsupported, reader: reader)
        if let node = fields["connectionPool"] { readConnectionPool(node, fields.field("connectionPool"), into: &policy, reader: reader) }
        if let node = fields["outlierDetection"] {
            policy.outlierDetection = readOutlierDetection(node, fields.field("outlierDetection"), reader: reader)
        }
        if let node = fields["loadBalancer"] { readLoadBalancer(node, fields.field("loadBalancer"), into: &policy, reader: reader) }
    }

    private static func readConnectionPool(_ node: Node, _ path: FieldPath, into policy: inout Settings, reader: NodeReader) {
        guard let fields = reader.fields(node, path, allowed: ["tcp", "http"]) else { return }
        if let node = fields["tcp"], let tcp = reader.fields(node, fields.field("tcp"), allowed: ["maxConnections", "connectTimeout"]) {
            if let node = tcp["maxConnections"], let v = reader.integer(node, tcp.field("maxConnections"), in: limitRange) {
                policy.limits.maxConnections = v
            }
            if let node = tcp["connectTimeout"] {
                policy.connectTimeoutNanos = reader.durationNanos(node, tcp.field("connectTimeout"), in: connectTimeoutRange, grammar: .gateway)
            }
        }
        if let node = fields["http"], let http = reader.fields(node, fields.field("http"), allowed: [
            "http2MaxRequests", "http1MaxPendingRequests", "maxRetries", "maxRequestsPerConnection", "idleTimeout",
        ]) {
            if let node = http["http2MaxRequests"], let v = reader.integer(node, http.field("http2MaxRequests"), in: limitRange) {
                policy.limits.maxRequests = v
            }
            if let node = http["http1MaxPendingRequests"], let v = reader.integer(node, http.field("http1MaxPendingRequests"), in: limitRange) {
                policy.limits.maxPendingRequests = v
            }
            if let node = http["maxRetries"], let v = reader.integer(node, http.field("maxRetries"), in: limitRange) {
                policy.limits.maxRetries = v
            }
            if let node = http["maxRequestsPerConnection"],
               let v = reader.integer(node, http.field("maxRequestsPerConnection"), in: maxRequestsPerConnectionRange)
            {
                policy.maxRequestsPerConnection = v
            }
            if let node = http["idleTimeout"] {
                policy.idleTimeoutNanos = reader.durationNanos(node, http.field("idleTimeout"), in: idleTimeoutRange, grammar: .gateway)
            }
        }
    }

    private static func readOutlierDetection(_ node: Node, _ path: FieldPath, reader: NodeReader) -> OutlierPolicy? {
        guard let fields = reader.fields(node, path, allowed: [
            "consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveLocalOriginFailures", "interval", "baseEjectionTime",
            "maxEjectionPercent", "minHealthPercent",
        ]) else { return nil }
        var outlier = OutlierPolicy()
        func integer(_ name: String, _ range: ClosedRange<Int>, _ set: (Int) -> Void) {
            if let node = fields[name], let v = reader.integer(node, fields.field(name), in: range) { set(v) }
        }
        func duration(_ name: String, _ range: ClosedRange<Int>, _ set: (UInt64) -> Void) {
            if let node = fields[name], let v = reader.durationNanos(node, fields.field(name), in: range, grammar: .gateway) { set(v) }
        }
        integer("consecutive5xxErrors", consecutiveRange) { outlier.consecutive5xx = $0 }
        integer("consecutiveGatewayErrors", consecutiveRange) { outlier.consecutiveGatewayErrors = $0 }
        integer("consecutiveLocalOriginFailures", consecutiveRange) { outlier.consecutiveLocalOriginFailures = $0 }
        duration("interval", intervalRange) { outlier.intervalNanos = $0 }
        duration("baseEjectionTime", baseEjectionTimeRange) {
            outlier.baseEjectionNanos = $0
            // Envoy: the cap is 300 s or the base, whichever is larger.
            outlier.maxEjectionNanos = max(defaultMaxEjectionNanos, $0)
        }
        integer("maxEjectionPercent", percentRange) { outlier.maxEjectionPercent = $0 }
        integer("minHealthPercent", percentRange) { outlier.minHealthPercent = $0 }
        return outlier
    }

    private static func readLoadBalancer(_ node: Node, _ path: FieldPath, into policy: inout Settings, reader: NodeReader) {
        guard let fields = reader.fields(node, path, allowed: ["simple", "failoverPriority"] + PolicyReading.names(loadBalancerUnsupported))
        else { return }
        PolicyReading.refuse(fields, loadBalancerUnsupported, reader: reader)
        if let node = fields["simple"], let text = reader.string(node, fields.field("simple")) {
            switch text {
            case "LEAST_REQUEST", "LEAST_CONN": policy.loadBalancer = .leastRequest
            case "ROUND_ROBIN": policy.loadBalancer = .roundRobin
            case "RANDOM": policy.loadBalancer = .random
            case "PASSTHROUGH":
                reader.report(node, fields.field("simple"),
                              "PASSTHROUGH is not supported: the proxy always picks an endpoint of the Service; use LEAST_REQUEST, ROUND_ROBIN or RANDOM")
            default:
                reader.report(node, fields.field("simple"),
                              "unknown algorithm \"\(text)\"; expected LEAST_REQUEST (or its old name LEAST_CONN), ROUND_ROBIN or RANDOM")
            }
        }
        if let node = fields["failoverPriority"], let items = reader.list(node, fields.field("failoverPriority")) {
            var clusters: [String] = []
            var firstAt: [String: FieldPath] = [:]
            for (i, item) in items.enumerated() {
                let itemPath = fields.field("failoverPriority").index(i)
                guard let cluster = ObjectMetadata.validated(item, itemPath, reader: reader, valid: NameRules.isDNSLabel,
                                                             rule: NameRules.dnsLabelRule)
                else { continue }
                if let first = firstAt[cluster] {
                    reader.report(item, itemPath, "cluster \(cluster) is already listed at \(first)")
                    continue
                }
                firstAt[cluster] = itemPath
                clusters.append(cluster)
            }
            policy.failoverPriority = clusters
        }
    }
}
