import CausewayHTTP
import CausewayMesh

/// route: reads the request head out of its header block (bytes, no copy) and asks the
/// pure `RouteDecision` in CausewayMesh where it goes.
enum Route {
    static func decide(_ headers: HeaderBlock, in table: ServiceTable, role: TrafficRole) -> RouteDecision {
        let scope: RouteScope = role == .gateway ? .exportedOnly : .anyService
        let (method, authority, host) = headers.firstIndices(of: ":method", ":authority", "host")
        // Nested closures keep every value a borrowed pointer into the block.
        return withOptionalValue(headers, method) { method in
            withOptionalValue(headers, authority) { authority in
                withOptionalValue(headers, host) { host in
                    RouteDecision.decide(RequestHead(method: method, authority: authority, host: host), in: table, scope: scope)
                }
            }
        }
    }

    /// The port an `:authority` (else `Host`) names, or nil when it names none.
    static func authorityPort(_ headers: HeaderBlock) -> UInt16? {
        let (authority, host, _) = headers.firstIndices(of: ":authority", "host", "host")
        guard let index = authority ?? host else { return nil }
        return headers.withValue(at: index) { AuthorityPort.parse($0) }
    }

    @inline(__always)
    private static func withOptionalValue<R>(_ headers: HeaderBlock, _ index: Int?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let index else { return body(nil) }
        return headers.withValue(at: index) { body($0) }
    }

    /// The header edit for a request to `backend` arriving on a listener of `role`: a
    /// gateway replaces `x-forwarded-client-cert` with the verified identities of this hop;
    /// a sidecar drops any the client sent (it proves nothing) and, for a mirrored service,
    /// sends the service's name in its own cluster.
    static func edit(for backend: BackendState, role: TrafficRole, forwardedClientCert: [UInt8], headers: HeaderBlock) -> HeaderEdit {
        switch role {
        case .gateway:
            return RequestRewrite.forwardedClientCert(forwardedClientCert)
        case .sidecar:
            // Most requests carry no x-forwarded-client-cert: then a local request goes out
            // unedited (the edit path costs per field).
            let forged = headers.firstIndex(of: RequestRewrite.forwardedClientCertName) != nil
            if !forged && backend.remoteAuthority == nil { return .none }
            return HeaderEdit(authority: backend.remoteAuthority, dropping: forged ? RequestRewrite.forwardedClientCertName : nil)
        }
    }
}
