import CausewayHTTP

/// Header changes the proxy makes to requests it forwards. Values are prepared once (per
/// connection or per snapshot) as bytes, so a request pays two array copies and no string
/// work.
enum RequestRewrite {
    /// Replaces `:authority` (and drops `host`) so the remote gateway sees the Service's
    /// name in its own cluster (`webapp-cluster2.production` → `webapp.production`).
    static func authority(_ headers: HeaderBlock, to authority: [UInt8]) -> HeaderBlock {
        // Pseudo-headers must stay ahead of regular ones, so :authority is replaced in place.
        var out = HeaderBlock()
        out.reserve(bytes: headers.bytes.count + authority.count, fields: headers.count + 1)
        var replaced = false
        authority.withUnsafeBytes { value in
            let name = UnsafeRawBufferPointer(start: StaticString(":authority").utf8Start, count: 10)
            for i in 0..<headers.count {
                if headers.name(at: i, equals: ":authority") {
                    if !replaced { out.append(name: name, value: value) }
                    replaced = true
                } else if !headers.name(at: i, equals: "host") {
                    if !replaced && !headers.isPseudoHeader(at: i) {
                        // No :authority in the request (a host header instead): add it
                        // after the other pseudo-headers.
                        out.append(name: name, value: value)
                        replaced = true
                    }
                    out.append(fieldAt: i, of: headers)
                }
            }
            if !replaced { out.append(name: name, value: value) }
        }
        return out
    }

    /// Replaces any `x-forwarded-client-cert` the caller sent with the verified identities
    /// of this hop (`forwardedClientCertValue`).
    static func forwardedClientCert(_ headers: HeaderBlock, value: [UInt8]) -> HeaderBlock {
        value.withUnsafeBytes { headers.replacing("x-forwarded-client-cert", with: $0) }
    }

    /// Envoy's XFCC format for one hop: `By=<our SPIFFE ID>;URI=<caller's SPIFFE ID>`.
    static func forwardedClientCertValue(by local: String?, peer: String?) -> [UInt8] {
        var parts: [String] = []
        if let local { parts.append("By=\(local)") }
        if let peer { parts.append("URI=\(peer)") }
        return Array(parts.joined(separator: ";").utf8)
    }
}
