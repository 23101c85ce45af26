import CausewayHTTP

/// Header changes the proxy makes to requests it forwards.
enum RequestRewrite {
    /// Replaces `:authority` (and drops `host`) so the remote gateway sees the Service's
    /// name in its own cluster (`webapp-cluster2.production` → `webapp.production`).
    static func authority(_ headers: HeaderBlock, to authority: String) -> HeaderBlock {
        var out = HeaderBlock()
        for i in 0..<headers.count {
            if headers.name(at: i, equals: ":authority") {
                out.append(name: ":authority", value: authority)
            } else if !headers.name(at: i, equals: "host") {
                out.append(fieldAt: i, of: headers)
            }
        }
        if headers.firstIndex(of: ":authority") == nil {
            out.append(name: ":authority", value: authority)
        }
        return out
    }

    /// Replaces any `x-forwarded-client-cert` the caller sent with the verified identities
    /// of this hop, in Envoy's format: `By=<our SPIFFE ID>;URI=<caller's SPIFFE ID>`.
    static func forwardedClientCert(_ headers: HeaderBlock, by local: String?, peer: String?) -> HeaderBlock {
        var out = HeaderBlock()
        for i in 0..<headers.count where !headers.name(at: i, equals: "x-forwarded-client-cert") {
            out.append(fieldAt: i, of: headers)
        }
        var parts: [String] = []
        if let local { parts.append("By=\(local)") }
        if let peer { parts.append("URI=\(peer)") }
        if !parts.isEmpty { out.append(name: "x-forwarded-client-cert", value: parts.joined(separator: ";")) }
        return out
    }
}
