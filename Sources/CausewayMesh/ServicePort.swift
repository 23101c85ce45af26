/// One port of a Service as its EndpointSlices declare it (TCP only: other protocols are
/// not proxied), and as a gateway publishes it to linked clusters.
public struct ServicePort: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The port's name (`http`), or nil when the slice gave none.
    public let name: String?
    /// The TCP port endpoints listen on.
    public let port: UInt16
    /// `appProtocol` (`kubernetes.io/h2c`, `http`), or nil when the slice gave none.
    public let appProtocol: String?

    public init(name: String?, port: UInt16, appProtocol: String?) {
        self.name = name
        self.port = port
        self.appProtocol = appProtocol
    }

    /// Orders by port, then name, then protocol: the stable order lists are published in.
    public static func < (lhs: ServicePort, rhs: ServicePort) -> Bool {
        if lhs.port != rhs.port { return lhs.port < rhs.port }
        if lhs.name != rhs.name { return (lhs.name ?? "") < (rhs.name ?? "") }
        return (lhs.appProtocol ?? "") < (rhs.appProtocol ?? "")
    }

    /// `8080/http (kubernetes.io/h2c)`, for logs and conflict reports.
    public var description: String {
        var text = String(port)
        if let name { text += "/\(name)" }
        if let appProtocol { text += " (\(appProtocol))" }
        return text
    }
}
