import CausewayHTTP

/// Why the proxy answered a request itself instead of the upstream.
///
/// The one place a failure becomes a status code and an `x-causeway-reason` value.
public enum ProxyFailure: Sendable, Equatable {
    /// `:authority` names no known Service.
    case noRoute
    /// The Service exists but has no ready endpoint.
    case noHealthyUpstream
    /// Connecting to the chosen endpoint failed, was refused or timed out.
    case upstreamConnectFailure
    /// The upstream reset the stream or dropped the connection before responding.
    case upstreamReset
    /// The upstream refused the stream (GOAWAY or REFUSED_STREAM) after its body was sent.
    case upstreamRefused
    /// The request has no `:authority` or `host`.
    case missingAuthority
    /// Gateway: the name is not an exported Service (or does not exist: the gateway does
    /// not tell the two apart).
    case notExported
    /// The remote gateway's certificate is not the identity its `Link` names.
    case upstreamIdentityMismatch

    /// The HTTP status sent downstream.
    public var status: Int {
        switch self {
        case .noRoute: 404
        case .notExported: 403
        case .noHealthyUpstream, .upstreamConnectFailure, .upstreamRefused, .upstreamIdentityMismatch: 503
        case .upstreamReset: 502
        case .missingAuthority: 400
        }
    }

    /// The `x-causeway-reason` header value.
    public var reason: String {
        switch self {
        case .noRoute: "no-route"
        case .noHealthyUpstream: "no-healthy-upstream"
        case .upstreamConnectFailure: "upstream-connect-failure"
        case .upstreamReset: "upstream-reset"
        case .upstreamRefused: "upstream-refused"
        case .missingAuthority: "missing-authority"
        case .notExported: "not-exported"
        case .upstreamIdentityMismatch: "upstream-identity-mismatch"
        }
    }

    /// A one-line human explanation, sent as the body.
    public var message: String {
        switch self {
        case .noRoute: "no service matches the request's authority"
        case .noHealthyUpstream: "the service has no ready endpoint"
        case .upstreamConnectFailure: "could not connect to the service's endpoint"
        case .upstreamReset: "the upstream reset the stream before responding"
        case .upstreamRefused: "the upstream refused the stream"
        case .missingAuthority: "the request has no :authority or host header"
        case .notExported: "this gateway does not export the requested service"
        case .upstreamIdentityMismatch: "the remote gateway's identity is not the one its link expects"
        }
    }

    /// Response headers for this failure.
    func headers(bodyLength: Int) -> HeaderBlock {
        var h = HeaderBlock()
        h.append(name: ":status", value: String(status))
        h.append(name: "content-type", value: "text/plain; charset=utf-8")
        h.append(name: "content-length", value: String(bodyLength))
        h.append(name: "x-causeway-reason", value: reason)
        return h
    }
}
