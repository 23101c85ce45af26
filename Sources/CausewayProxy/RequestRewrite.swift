import CausewayHTTP

/// Header changes the proxy makes to requests it forwards, as `HeaderEdit`s applied while
/// nghttp2 takes the headers: a forwarded request copies no header block and builds no
/// string. Values are prepared once, per connection or per snapshot.
enum RequestRewrite {
    /// Replaces `:authority` (and drops `host`) so the remote gateway sees the Service's
    /// name in its own cluster (`webapp-cluster2.production` → `webapp.production`).
    static func authority(_ authority: [UInt8]) -> HeaderEdit {
        HeaderEdit(authority: authority)
    }

    /// Replaces any `x-forwarded-client-cert` the caller sent with the verified identities
    /// of this hop (`forwardedClientCertValue`).
    static func forwardedClientCert(_ value: [UInt8]) -> HeaderEdit {
        HeaderEdit(replacing: (forwardedClientCertName, value))
    }

    /// The header carrying the caller's verified identity; only this proxy may set it.
    static let forwardedClientCertName: StaticString = "x-forwarded-client-cert"

    /// Envoy's XFCC format for one hop: `By=<our SPIFFE ID>;URI=<caller's SPIFFE ID>`.
    static func forwardedClientCertValue(by local: String?, peer: String?) -> [UInt8] {
        var parts: [String] = []
        if let local { parts.append("By=\(local)") }
        if let peer { parts.append("URI=\(peer)") }
        return Array(parts.joined(separator: ";").utf8)
    }
}
