import CausewayHTTP
import CausewayMesh

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
    /// The request's header block is over `maxHeaderListSize` or `maxHeaderFields`.
    case headerTooLarge
    /// The upstream's response header block is over our limits (nothing was sent yet).
    case upstreamHeaderTooLarge
    /// The client stopped making progress before its request ended (stream idle or
    /// request timeout).
    case requestTimeout
    /// The request ended but the upstream did not answer in time.
    case upstreamTimeout
    /// `host` and `:authority` name different hosts.
    case authorityMismatch
    /// CONNECT: the proxy is not a tunnel.
    case methodNotAllowed
    /// An HTTPRoute attached to the Service has no rule matching the request.
    case noRuleMatched
    /// A circuit breaker of the chosen Service is at its limit (`connectionPool`).
    case overflow
    /// An AuthorizationPolicy denies the caller.
    case denied
    /// The route's whole-request timeout passed (retries included).
    case routeTimeout
    /// The request head cannot be written as an HTTP/1.1 request line for an HTTP/1.1
    /// endpoint (a method or target no request line can carry).
    case invalidRequest

    /// The failure for a route rejection.
    init(_ rejection: RouteRejection) {
        switch rejection {
        case .missingAuthority: self = .missingAuthority
        case .authorityMismatch: self = .authorityMismatch
        case .methodNotAllowed: self = .methodNotAllowed
        case .noRoute: self = .noRoute
        case .notExported: self = .notExported
        }
    }

    /// The HTTP status sent downstream.
    public var status: Int {
        switch self {
        case .noRoute: 404
        case .notExported: 403
        case .noHealthyUpstream, .upstreamConnectFailure, .upstreamRefused, .upstreamIdentityMismatch: 503
        case .upstreamReset, .upstreamHeaderTooLarge: 502
        case .missingAuthority, .authorityMismatch: 400
        case .headerTooLarge: 431
        case .requestTimeout: 408
        case .upstreamTimeout: 504
        case .methodNotAllowed: 405
        case .noRuleMatched: 404
        case .overflow: 503
        case .denied: 403
        case .routeTimeout: 504
        case .invalidRequest: 400
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
        case .headerTooLarge: "header-too-large"
        case .upstreamHeaderTooLarge: "upstream-header-too-large"
        case .requestTimeout: "request-timeout"
        case .upstreamTimeout: "upstream-timeout"
        case .authorityMismatch: "authority-mismatch"
        case .methodNotAllowed: "method-not-allowed"
        case .noRuleMatched: "no-route"
        case .overflow: "overflow"
        case .denied: "denied"
        case .routeTimeout: "route-timeout"
        case .invalidRequest: "invalid-request"
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
        case .headerTooLarge: "the request's headers are larger than this proxy accepts"
        case .upstreamHeaderTooLarge: "the upstream's response headers are larger than this proxy accepts"
        case .requestTimeout: "the request did not arrive in time"
        case .upstreamTimeout: "the upstream did not respond in time"
        case .authorityMismatch: "host and :authority name different hosts"
        case .methodNotAllowed: "this proxy does not tunnel (CONNECT)"
        case .noRuleMatched: "no rule of the service's HTTPRoute matches the request"
        case .overflow: "the service is at a connection pool limit; try again later"
        case .denied: "an authorization policy denies this caller"
        case .routeTimeout: "the route's request timeout passed"
        case .invalidRequest: "the request cannot be forwarded as an HTTP/1.1 request"
        }
    }

    /// Response headers for this failure.
    func headers(bodyLength: Int) -> HeaderBlock {
        var h = HeaderBlock()
        h.append(name: ":status", value: String(status))
        h.append(name: "content-type", value: "text/plain; charset=utf-8")
        h.append(name: "content-length", value: String(bodyLength))
        h.append(name: "x-causeway-reason", value: reason)
        if self == .methodNotAllowed { h.append(name: "allow", value: "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE") }
        return h
    }
}
