/// Names a Kubernetes Service: the `kubernetes.io/service-name` label of its EndpointSlices
/// and the namespace they live in.
///
/// A service mirrored from another cluster (`webapp-cluster2`, Linkerd's convention) is just
/// another key; nothing here knows about clusters.
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    /// Namespace of the service, e.g. `production`. Expected to be a DNS label.
    public let namespace: String
    /// Name of the service, e.g. `webapp`. Expected to be a DNS label.
    public let name: String

    /// Creates a key. No validation happens here: the config loader checks that both parts are
    /// DNS labels before building a key.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// `name.namespace`, the short DNS form (`webapp.production`).
    public var description: String { "\(name).\(namespace)" }
}
