import COpenSSL

/// OpenSSL's per-connection callbacks: the bridging file where an `SSL *` is turned back
/// into its `TLSConnection` (kept unretained in the SSL's ex_data slot; the connection frees
/// the SSL in its deinit, so the pointer is valid whenever OpenSSL can call back).
///
/// Callbacks only examine data and record a verdict on the connection; the connection acts
/// on it after OpenSSL returns.
enum TLSCallbacks {
    /// The ex_data slot holding the connection. Allocated once per process.
    static let connectionSlot: Int32 = causeway_SSL_get_ex_new_index()

    static func attach(_ connection: TLSConnection, to ssl: OpaquePointer) {
        SSL_set_ex_data(ssl, connectionSlot, Unmanaged.passUnretained(connection).toOpaque())
    }

    @inline(__always)
    static func connection(of ssl: OpaquePointer?) -> TLSConnection? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, connectionSlot) else { return nil }
        return Unmanaged<TLSConnection>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Installs the callbacks `role` needs on a context being built.
    static func install(on ctx: OpaquePointer, role: TLSRole, requiresALPN: Bool) {
        var mode = SSL_VERIFY_PEER
        if role == .server { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
        SSL_CTX_set_verify(ctx, mode, verify)
        switch role {
        case .server:
            if requiresALPN {
                SSL_CTX_set_client_hello_cb(ctx, clientHello, nil)
                SSL_CTX_set_alpn_select_cb(ctx, selectALPN, nil)
            }
        case .client:
            SSL_CTX_sess_set_new_cb(ctx, newSession)
        }
    }

    /// Chain verification. OpenSSL has checked each certificate (`preverified`); at the
    /// leaf (depth 0) we add the mesh's identity rule, so a wrong identity is refused
    /// inside the handshake with an alert, like any other bad certificate.
    private static let verify: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
        guard let store,
              let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
              let connection = connection(of: OpaquePointer(ssl))
        else { return 0 }
        let depth = X509_STORE_CTX_get_error_depth(store)
        if preverified == 0 {
            connection.noteChainError(code: X509_STORE_CTX_get_error(store), depth: depth)
            return 0
        }
        guard depth == 0, let leaf = X509_STORE_CTX_get_current_cert(store) else { return 1 }
        if connection.acceptPeerCertificate(leaf) { return 1 }
        // CERT_REJECTED makes OpenSSL send bad_certificate, which tells the peer its
        // certificate is the problem (APPLICATION_VERIFICATION would send handshake_failure).
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
        return 0
    }

    /// Server: a ClientHello without ALPN is refused with no_application_protocol (the ALPN
    /// selection callback only runs when the extension is present).
    private static let clientHello: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, alert, _ in
        guard let connection = connection(of: ssl) else { return SSL_CLIENT_HELLO_ERROR }
        var data: UnsafePointer<UInt8>?
        var length = 0
        if SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation), &data, &length) == 1 {
            return SSL_CLIENT_HELLO_SUCCESS
        }
        connection.refuseALPN(offered: nil)
        alert?.pointee = SSL_AD_NO_APPLICATION_PROTOCOL
        return SSL_CLIENT_HELLO_ERROR
    }

    /// Server: picks the first of our protocols that the client offers (our preference
    /// order), or refuses with no_application_protocol.
    private static let selectALPN: SSL_CTX_alpn_select_cb_func = { ssl, out, outLength, offered, offeredLength, _ in
        guard let connection = connection(of: ssl), let out, let outLength, let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
        for wanted in connection.context.applicationProtocolsWire {
            if let offset = ALPNWire.find(wanted, in: list) {
                out.pointee = offered + offset
                outLength.pointee = UInt8(wanted.count)
                return SSL_TLSEXT_ERR_OK
            }
        }
        connection.refuseALPN(offered: ALPNWire.names(in: list))
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }

    /// Client: a session (TLS 1.2 at the end of the handshake, TLS 1.3 with each
    /// NewSessionTicket) to resume later. Returning 1 hands our reference to the cache.
    private static let newSession: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
        guard let connection = connection(of: ssl), let session else { return 0 }
        return connection.storeSession(session) ? 1 : 0
    }
}

/// ALPN's wire format (RFC 7301): each protocol name preceded by its length byte.
enum ALPNWire {
    static func encode(_ protocols: [String]) -> [UInt8] {
        protocols.flatMap { name in [UInt8(name.utf8.count)] + Array(name.utf8) }
    }

    /// Offset of `name`'s bytes in `list`, if `list` holds it as a whole entry.
    static func find(_ name: [UInt8], in list: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        while i < list.count {
            let length = Int(list[i])
            let start = i + 1
            guard length > 0, start + length <= list.count else { return nil }
            if length == name.count && list[start..<start + length].elementsEqual(name) { return start }
            i = start + length
        }
        return nil
    }

    /// The names in `list`, for error messages.
    static func names(in list: UnsafeBufferPointer<UInt8>) -> [String] {
        var names: [String] = []
        var i = 0
        while i < list.count {
            let length = Int(list[i])
            let start = i + 1
            guard start + length <= list.count else { break }
            names.append(String(decoding: list[start..<start + length], as: UTF8.self))
            i = start + length
        }
        return names
    }
}
