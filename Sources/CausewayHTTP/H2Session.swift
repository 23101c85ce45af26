import CNghttp2
import CausewayBytes

/// One HTTP/2 connection's protocol state, driven sans-I/O over nghttp2.
///
/// Feed received bytes to `receive(_:)`, then handle `events` (and clear them); call the
/// submit methods to act; call `produceOutput(limit:)` and write `output` to the socket.
/// nghttp2's callbacks only record events and move bytes; all decisions happen in the
/// caller after nghttp2 returns. Window updates are manual: call `consume(streamID:count:)`
/// once received bytes have left on the other side. Owned by one loop; not thread-safe.
public final class H2Session {
    /// Server or client.
    public let role: H2Role
    let session: OpaquePointer
    /// Events recorded since the caller last cleared them.
    public var events: [H2Event] = []
    /// Serialized frames waiting to be written to the socket.
    public var output = OutputQueue()
    /// Bodies being sent, by stream; the data provider refers to them unretained.
    var bodies: [Int32: H2OutboundBody] = [:]
    /// The header block being assembled (HEADERS + CONTINUATION arrive as one unit).
    var pendingBlock = HeaderBlock()
    /// The stream `pendingBlock` belongs to.
    var pendingBlockStream: Int32 = 0
    /// Limits of every received header block (from the settings).
    let headerLimits: HeaderBudget
    /// What the block being received has cost so far.
    var pendingBlockBudget: HeaderBudget
    /// True between the first frame of a received header block and its END_HEADERS: the
    /// owner times how long a peer takes to finish one (request headers timeout).
    public internal(set) var headerBlockInProgress = false
    /// Frames that cost work and carry nothing (empty DATA, SETTINGS, PRIORITY, header
    /// blocks far over the limit). The owner decays it over time (`forgiveGlitches`);
    /// past `glitchLimit` the session ends with ENHANCE_YOUR_CALM.
    public internal(set) var glitches = 0
    /// Glitches tolerated before the connection is ended (nghttp2 1.67's default burst).
    public static let glitchLimit = 1000
    /// Client stream ids skipped (server role): HEADERS on one is a connection error.
    var streamGaps = StreamIDGaps()
    /// Header blocks begun so far: tells the owner whether the block in progress now is
    /// the one it saw in progress before.
    public internal(set) var headerBlocksStarted = 0
    /// A connection error a callback found that nghttp2 does not raise itself.
    var connectionError: UInt32?

    /// Moves the assembled block out, leaving an empty one (a move, not a copy).
    @inline(__always)
    func takePendingBlock() -> HeaderBlock {
        var block = HeaderBlock()
        swap(&block, &pendingBlock)
        return block
    }

    /// Creates a session and queues its SETTINGS (and, for a server, nothing else until the
    /// client preface arrives).
    public init(role: H2Role, settings: H2Settings) {
        self.role = role
        headerLimits = HeaderBudget(maxSize: Int(settings.maxHeaderListSize), maxFields: Int(settings.maxHeaderFields))
        pendingBlockBudget = headerLimits
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        H2Callbacks.install(on: callbacks!, role: role)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        nghttp2_option_set_no_auto_window_update(option, 1)
        // Bounded queues of control frames we owe the peer (PING/SETTINGS floods).
        nghttp2_option_set_max_outbound_ack(option, 1000)
        // Set explicitly (CVE-2023-44487, CVE-2024-28182): linking fails on a libnghttp2
        // without these backports instead of silently running unprotected. Rapid reset:
        // a burst of 1,000 received RST_STREAM, then 33 per second.
        nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33)
        nghttp2_option_set_max_continuations(option, 8)
        nghttp2_option_set_max_settings(option, 32)
        // A block we may send is as large as one we accept, plus room for our own edits
        // (x-forwarded-client-cert); a larger one is reported by `headersNotSent`.
        nghttp2_option_set_max_send_header_block_length(option, Int(settings.maxHeaderListSize) + 4096)
        var raw: OpaquePointer?
        // `self` is passed unretained: the session is deleted in deinit, before self is gone.
        let rc: Int32
        switch role {
        case .server: rc = nghttp2_session_server_new2(&raw, callbacks, nil, option)
        case .client: rc = nghttp2_session_client_new2(&raw, callbacks, nil, option)
        }
        nghttp2_option_del(option)
        nghttp2_session_callbacks_del(callbacks)
        precondition(rc == 0 && raw != nil, "nghttp2 session allocation failed")
        session = raw!
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())

        var iv: [nghttp2_settings_entry] = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialStreamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
            // RFC 9218: we never act on RFC 7540 priorities, so say so.
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        if role == .client {
            iv.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), iv, iv.count)
        if settings.connectionWindow > 65535 {
            nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(clamping: settings.connectionWindow))
        }
    }

    deinit {
        nghttp2_session_del(session)
    }

    // MARK: Input

    /// Processes received bytes, appending to `events`.
    ///
    /// - Throws: `H2SessionError` on a connection error; nghttp2 has then usually queued a
    ///   GOAWAY, so flush `output` before closing.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(H2SessionError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let n = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if n < 0 { throw Self.error(Int32(n)) }
        if let code = connectionError {
            connectionError = nil
            nghttp2_session_terminate_session(session, code)
            throw H2SessionError(code: Int32(NGHTTP2_ERR_PROTO.rawValue), reason: "protocol error (HEADERS on a stream that was never opened)")
        }
        if glitches > Self.glitchLimit {
            nghttp2_session_terminate_session(session, H2ErrorCode.enhanceYourCalm)
            throw H2SessionError(code: Int32(NGHTTP2_ERR_FLOODED.rawValue), reason: "too many frames without content (flood)")
        }
    }

    /// Forgets `count` glitches (the owner calls this as time passes, e.g. 33 a second, so
    /// only a burst ends the connection).
    public func forgiveGlitches(_ count: Int) {
        glitches = max(0, glitches - count)
    }

    /// Ends the connection: GOAWAY with `errorCode` naming the last stream processed.
    /// Streams in flight are closed; flush `output`, then close the socket.
    public func terminate(errorCode: UInt32) {
        nghttp2_session_terminate_session(session, errorCode)
    }

    // MARK: Output

    /// Serializes pending frames into `output` until nothing is left or `output` holds at
    /// least `limit` bytes (so a slow socket bounds memory).
    public func produceOutput(limit: Int) throws(H2SessionError) {
        while output.pendingBytes < limit {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 { throw Self.error(Int32(n)) }
            if n == 0 { break }
            output.append(UnsafeRawBufferPointer(start: data, count: n))
        }
    }

    /// True while the session expects to read or write more (false after GOAWAY exchange
    /// completes or a fatal error): then the connection can be closed.
    public var isAlive: Bool {
        nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// True when nghttp2 has frames to send.
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    // MARK: Requests and responses

    /// Sends a request (client role) and returns its stream id, or a negative nghttp2 error.
    ///
    /// - Parameter body: the request body, or nil to end the stream with the headers.
    public func submitRequest(_ headers: HeaderBlock, edit: HeaderEdit = .none, body: H2OutboundBody?) -> Int32 {
        withNameValues(headers, edit: edit) { nva, count in
            if let body {
                var provider = Self.provider(for: body)
                let id = nghttp2_submit_request(session, nil, nva, count, &provider, nil)
                if id > 0 { attach(body, to: id) }
                return id
            }
            return nghttp2_submit_request(session, nil, nva, count, nil, nil)
        }
    }

    /// Sends a response (server role). Returns 0 or a negative nghttp2 error.
    ///
    /// - Parameter body: the response body, or nil to end the stream with the headers.
    @discardableResult
    public func submitResponse(streamID: Int32, _ headers: HeaderBlock, edit: HeaderEdit = .none, body: H2OutboundBody?) -> Int32 {
        withNameValues(headers, edit: edit) { nva, count in
            if let body {
                var provider = Self.provider(for: body)
                let rc = nghttp2_submit_response(session, streamID, nva, count, &provider)
                if rc == 0 { attach(body, to: streamID) }
                return rc
            }
            return nghttp2_submit_response(session, streamID, nva, count, nil)
        }
    }

    /// Queues body bytes for `body`'s stream and wakes its provider.
    public func send(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) {
        body.queue.append(bytes)
        resume(body)
    }

    /// Marks `body` complete; `trailers`, if any, follow the last DATA frame.
    public func finish(_ body: H2OutboundBody, trailers: HeaderBlock? = nil) {
        body.ended = true
        body.trailers = trailers
        resume(body)
    }

    private func resume(_ body: H2OutboundBody) {
        if body.deferred && body.streamID > 0 {
            body.deferred = false
            nghttp2_session_resume_data(session, body.streamID)
        }
    }

    /// Drops whatever `body` still holds (its stream is being reset): nothing more of it
    /// will be framed. Returns the number of bytes dropped, whose window credit the caller
    /// owes the side they came from.
    @discardableResult
    public func abandon(_ body: H2OutboundBody) -> Int {
        body.discard()
    }

    /// Resets a stream with `errorCode`.
    public func reset(streamID: Int32, errorCode: UInt32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// Returns `count` bytes of receive window on `streamID` (and the connection) to the
    /// peer. For a stream that is already closed, only the connection window is returned.
    public func consume(streamID: Int32, count: Int) {
        guard count > 0 else { return }
        if nghttp2_session_consume(session, streamID, count) != 0 {
            nghttp2_session_consume_connection(session, count)
        }
    }

    /// Returns `count` bytes of receive window on `streamID` only (the connection's window
    /// having been returned already, as bytes arrived). Nothing happens if the stream is gone.
    public func consumeStream(streamID: Int32, count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume_stream(session, streamID, count)
    }

    /// Bytes of the peer's window we may still send on the connection.
    public var remoteWindow: Int { Int(nghttp2_session_get_remote_window_size(session)) }

    /// Returns `count` bytes of connection-level receive window only.
    public func consumeConnection(count: Int) {
        guard count > 0 else { return }
        nghttp2_session_consume_connection(session, count)
    }

    /// Sends GOAWAY with the last stream id nghttp2 processed.
    public func goaway(errorCode: UInt32) {
        nghttp2_session_terminate_session(session, errorCode)
    }

    /// Sends GOAWAY naming `lastStreamID` as the last stream this end will process.
    public func goaway(lastStreamID: Int32, errorCode: UInt32) {
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, errorCode, nil, 0)
    }

    /// Starts a graceful shutdown (server): GOAWAY naming the last stream we processed, so
    /// in-flight streams finish and the client retries later ones elsewhere. nghttp2 then
    /// refuses new streams, and `isAlive` turns false once the last stream closes.
    public func shutdownGracefully() {
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session), H2ErrorCode.noError, nil, 0)
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (client role: how many requests fit).
    public var remoteMaxConcurrentStreams: UInt32 {
        nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
    }

    /// Whether the peer may still accept new streams on this session.
    public var canOpenStream: Bool { nghttp2_session_check_request_allowed(session) != 0 }

    // MARK: Helpers

    private func attach(_ body: H2OutboundBody, to streamID: Int32) {
        body.streamID = streamID
        bodies[streamID] = body
    }

    private static func provider(for body: H2OutboundBody) -> nghttp2_data_provider {
        nghttp2_data_provider(
            source: nghttp2_data_source(ptr: Unmanaged.passUnretained(body).toOpaque()),
            read_callback: H2Callbacks.readBody
        )
    }

    /// Builds nghttp2's name/value array over `headers`' bytes without copying them
    /// (nghttp2 copies during submission).
    func withNameValues<R>(_ headers: HeaderBlock, edit: HeaderEdit, _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        if edit.isEmpty { return withNameValues(headers, body) }
        if edit.authority == nil && edit.dropping == nil, let replacing = edit.replacing {
            return withNameValues(headers, replacing: replacing, body)
        }
        // `body` runs inside forEachField, while the pointers into `headers`, the edit's
        // arrays and static strings are valid; nghttp2 copies them.
        return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: headers.count + 2) { nva in
            var count = 0
            return edit.forEachField(of: headers, { name, value in
                nva[count] = nghttp2_nv(
                    name: UnsafeMutablePointer(mutating: name.baseAddress!.assumingMemoryBound(to: UInt8.self)),
                    value: UnsafeMutablePointer(mutating: (value.baseAddress ?? UnsafeRawPointer(name.baseAddress!)).assumingMemoryBound(to: UInt8.self)),
                    namelen: name.count, valuelen: value.count,
                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
                )
                count += 1
            }, then: { body(UnsafePointer(nva.baseAddress!), count) })
        }
    }

    /// The common edit of every relayed response (`x-causeway-upstream-cluster`): one field
    /// replacing any of its name, last. One pass over the fields, a length check first,
    /// no closure per field (the general `HeaderEdit.forEachField` path costs several times
    /// more per response).
    private func withNameValues<R>(_ headers: HeaderBlock, replacing: (name: StaticString, value: [UInt8]),
                                   _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        let name = UnsafeMutablePointer(mutating: replacing.name.utf8Start)
        let nameCount = replacing.name.utf8CodeUnitCount
        return headers.bytes.withUnsafeBufferPointer { raw in
            let base = UnsafeMutablePointer(mutating: raw.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: headers.fields.count + 1) { nva in
                var count = 0
                headers.fields.withUnsafeBufferPointer { fields in
                    for f in fields {
                        if Int(f.nameCount) == nameCount && memEqual(UnsafeRawPointer(base + Int(f.nameStart)), UnsafeRawPointer(name), nameCount) { continue }
                        nva[count] = nghttp2_nv(
                            name: base + Int(f.nameStart), value: base + Int(f.valueStart),
                            namelen: Int(f.nameCount), valuelen: Int(f.valueCount),
                            flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
                        )
                        count += 1
                    }
                }
                return replacing.value.withUnsafeBufferPointer { value in
                    nva[count] = nghttp2_nv(
                        name: name, value: UnsafeMutablePointer(mutating: value.baseAddress ?? UnsafePointer(name)),
                        namelen: nameCount, valuelen: value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
                    )
                    return body(UnsafePointer(nva.baseAddress!), count + 1)
                }
            }
        }
    }

    func withNameValues<R>(_ headers: HeaderBlock, _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        headers.bytes.withUnsafeBufferPointer { raw in
            let base = UnsafeMutablePointer(mutating: raw.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(headers.fields.count, 1)) { nva in
                for (i, f) in headers.fields.enumerated() {
                    nva[i] = nghttp2_nv(
                        name: base + Int(f.nameStart), value: base + Int(f.valueStart),
                        namelen: Int(f.nameCount), valuelen: Int(f.valueCount),
                        flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
                    )
                }
                return body(UnsafePointer(nva.baseAddress!), headers.fields.count)
            }
        }
    }

    static func error(_ code: Int32) -> H2SessionError {
        H2SessionError(code: code, reason: String(cString: nghttp2_strerror(code)))
    }
}
