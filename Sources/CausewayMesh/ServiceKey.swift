/// Names a Kubernetes Service: the `kubernetes.io/service-name` label of its EndpointSlices
/// and the namespace they live in, in one of two name domains.
///
/// A service mirrored from another cluster (`webapp-cluster2`, Linkerd's convention) is just
/// another key in the cluster domain. The clusterset domain (`clusterset == true`) names the
/// union of every cluster that exports `name` in `namespace` (the Multi-Cluster Services
/// `name.namespace.svc.clusterset.local`); it is a different service from the local one of
/// the same name.
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    /// Namespace of the service, e.g. `production`. Expected to be a DNS label.
    public let namespace: String
    /// Name of the service, e.g. `webapp`. Expected to be a DNS label.
    public let name: String
    /// True for the clusterset name of the service (every cluster that exports it).
    public let clusterset: Bool

    /// Creates a key. No validation happens here: the config loader checks that both parts are
    /// DNS labels before building a key.
    public init(namespace: String, name: String, clusterset: Bool = false) {
        self.namespace = namespace
        self.name = name
        self.clusterset = clusterset
    }

    /// The clusterset key of the same name and namespace.
    public var inClusterset: ServiceKey { ServiceKey(namespace: namespace, name: name, clusterset: true) }

    /// `name.namespace`, the short DNS form (`webapp.production`); a clusterset key is
    /// `name.namespace.svc.clusterset.local`, its only form.
    public var description: String {
        clusterset ? "\(name).\(namespace).svc.\(ServiceKey.clustersetDomain)" : "\(name).\(namespace)"
    }

    /// The DNS suffix of clusterset names.
    public static let clustersetDomain = "clusterset.local"
}
