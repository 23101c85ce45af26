import CNghttp2
import CausewayBytes

/// nghttp2's C callbacks: the one bridging file where `Unmanaged` turns `user_data` back
/// into the `H2Session` (and a data source into its `H2OutboundBody`).
///
/// Callbacks only record events and move bytes; they never call back into the proxy, so
/// nothing re-enters nghttp2 while it is running.
enum H2Callbacks {
    /// Installs the callbacks; a server session also sees every frame header first (the
    /// stream-order check), a client session does without that call per frame.
    static func install(on callbacks: OpaquePointer, role: H2Role) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_send_data_callback(callbacks, sendData)
        if role == .server { nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, onBeginFrame) }
        nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, onFrameNotSend)
    }

    @inline(__always)
    static func session(_ userData: UnsafeMutableRawPointer?) -> H2Session {
        Unmanaged<H2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Runs `body` with the session without retaining it: nghttp2 only calls back while
    /// the session's owner is inside `receive`/`produceOutput`, which keeps it alive.
    @inline(__always)
    static func withSession<R>(_ userData: UnsafeMutableRawPointer?, _ body: (H2Session) -> R) -> R {
        Unmanaged<H2Session>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
    }

    static let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
        withSession(userData) { s in
            // The previous block was moved into its event; this one starts empty (no
            // allocation until the first field).
            s.pendingBlock.removeAllDroppingStorage()
            s.pendingBlockStream = frame!.pointee.hd.stream_id
            s.pendingBlockBudget = s.headerLimits
            s.headerBlockInProgress = true
            s.headerBlocksStarted &+= 1
        }
        return 0
    }

    /// Stores one field, or drops it once the block is over its limits. nghttp2 1.52 does
    /// not enforce SETTINGS_MAX_HEADER_LIST_SIZE, and HPACK lets a peer name a 4 KB table
    /// entry with one byte, so the limit is counted here as fields are decoded.
    static let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
        withSession(userData) { s in
            switch s.pendingBlockBudget.charge(nameLength: nameLength, valueLength: valueLength) {
            case .within:
                s.pendingBlock.append(
                    name: UnsafeRawBufferPointer(start: name, count: nameLength),
                    value: UnsafeRawBufferPointer(start: value, count: valueLength)
                )
                return 0
            case .over:
                s.pendingBlock.removeAllDroppingStorage()
                // A client is told at once: nghttp2 resets the stream, ignores the rest of
                // the block, and the relay answers 502 from this event.
                guard s.role == .server else {
                    s.events.append(.headersTooLarge(streamID: frame!.pointee.hd.stream_id, endStream: false))
                    return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
                }
                return 0
            case .far:
                // Far past the limit (an HPACK bomb): stop decoding callbacks for this
                // block; nghttp2 resets the stream.
                s.glitches &+= 1
                return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
        }
    }

    /// Server role: sees every frame header before its payload, to catch HEADERS that would
    /// open a stream the client skipped, which nghttp2 1.52 ignores although RFC 9113
    /// §5.1.1 makes it a connection error (nghttp2 calls nothing else for such a frame).
    static let onBeginFrame: nghttp2_on_begin_frame_callback = { raw, hd, userData in
        let header = hd!.pointee
        guard UInt32(header.type) == NGHTTP2_HEADERS.rawValue, header.stream_id & 1 == 1 else { return 0 }
        withSession(userData) { s in
            if !s.streamGaps.opened(header.stream_id) && nghttp2_session_find_stream(raw, header.stream_id) == nil {
                s.connectionError = H2ErrorCode.protocolError
            }
        }
        return 0
    }

    static let onFrameNotSend: nghttp2_on_frame_not_send_callback = { _, frame, libError, userData in
        withSession(userData) { s in
            let hd = frame!.pointee.hd
            if UInt32(hd.type) == NGHTTP2_HEADERS.rawValue && hd.stream_id > 0 {
                let tooLarge = libError == NGHTTP2_ERR_FRAME_SIZE_ERROR.rawValue || libError == NGHTTP2_ERR_HEADER_COMP.rawValue
                s.events.append(.headersNotSent(streamID: hd.stream_id, tooLarge: tooLarge))
            }
        }
        return 0
    }

    static let onFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
        withSession(userData) { s in frameReceived(s, frame!) }
    }

    private static func frameReceived(_ s: H2Session, _ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(hd.type) {
        case NGHTTP2_HEADERS.rawValue:
            guard hd.stream_id == s.pendingBlockStream else { return 0 }
            s.headerBlockInProgress = false
            if s.pendingBlockBudget.exceeded {
                s.pendingBlock.removeAllDroppingStorage()
                if s.role == .server { s.events.append(.headersTooLarge(streamID: hd.stream_id, endStream: endStream)) }
                return 0
            }
            s.events.append(.headers(streamID: hd.stream_id, block: s.takePendingBlock(), endStream: endStream))
        case NGHTTP2_DATA.rawValue:
            if endStream {
                s.events.append(.endStream(streamID: hd.stream_id))
            } else if hd.length == 0 {
                // Frames that cost work and give us nothing count as glitches.
                s.glitches &+= 1
            }
        case NGHTTP2_PRIORITY.rawValue:
            s.glitches &+= 1
        case NGHTTP2_GOAWAY.rawValue:
            let g = frame.pointee.goaway
            s.events.append(.goaway(lastStreamID: g.last_stream_id, errorCode: g.error_code))
        case NGHTTP2_SETTINGS.rawValue:
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
                s.glitches &+= 1
                s.events.append(.settings)
            }
        default:
            break
        }
        return 0
    }

    static let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
        withSession(userData) { $0.events.append(.data(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length))) }
        return 0
    }

    static let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
        withSession(userData) { s in
            s.bodies[streamID] = nil
            if streamID == s.pendingBlockStream { s.headerBlockInProgress = false }
            s.events.append(.streamClosed(streamID: streamID, errorCode: errorCode))
        }
        return 0
    }

    /// Data provider: offers the head run of the body's queue, to be sent by reference.
    static let readBody: nghttp2_data_source_read_callback = { raw, streamID, _, length, flags, source, userData in
        let body = Unmanaged<H2OutboundBody>.fromOpaque(source!.pointee.ptr!).takeUnretainedValue()
        if let run = body.queue.peek(limit: length) {
            flags!.pointee |= NGHTTP2_DATA_FLAG_NO_COPY.rawValue
            if body.ended && run.count == body.queue.readableBytes {
                markEnd(body, session: raw, owner: session(userData), streamID: streamID, flags: flags!)
            }
            return run.count
        }
        if body.ended {
            markEnd(body, session: raw, owner: session(userData), streamID: streamID, flags: flags!)
            return 0
        }
        body.deferred = true
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }

    private static func markEnd(_ body: H2OutboundBody, session raw: OpaquePointer?, owner: H2Session, streamID: Int32, flags: UnsafeMutablePointer<UInt32>) {
        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        if let trailers = body.trailers, trailers.count > 0 {
            flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            body.trailers = nil
            owner.withNameValues(trailers) { nva, count in
                _ = nghttp2_submit_trailer(raw, streamID, nva, count)
            }
        }
        // Queued behind this frame (and the trailers, same queue): it leaves after the end of
        // the response. Only while the peer's half is open: a closed stream takes no frames.
        if body.resetStreamAtEnd, nghttp2_session_get_stream_remote_close(raw, streamID) == 0 {
            _ = nghttp2_submit_rst_stream(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, H2ErrorCode.noError)
        }
    }

    /// Writes a DATA frame whose payload stays in the body's chunk: the 9-byte header is
    /// copied, the payload is queued by reference.
    static let sendData: nghttp2_send_data_callback = { _, frame, frameHeader, length, source, userData in
        withSession(userData) { s in
            Unmanaged<H2OutboundBody>.fromOpaque(source!.pointee.ptr!)._withUnsafeGuaranteedRef { body in
                frameData(s, body, frame!, frameHeader!, length)
            }
        }
    }

    private static func frameData(_ s: H2Session, _ body: H2OutboundBody, _ frame: UnsafeMutablePointer<nghttp2_frame>,
                                  _ frameHeader: UnsafePointer<UInt8>, _ length: Int) -> Int32 {
        let padding = Int(frame.pointee.data.padlen)
        s.output.append(UnsafeRawBufferPointer(start: frameHeader, count: 9))
        if padding > 0 {
            var padLength = UInt8(padding - 1)
            withUnsafeBytes(of: &padLength) { s.output.append($0) }
        }
        var left = length
        while left > 0, let run = body.queue.peek(limit: left) {
            s.output.appendReference(run.chunk, offset: run.offset, count: run.count)
            body.queue.consume(run.count)
            left -= run.count
        }
        if padding > 1 {
            let zeros = [UInt8](repeating: 0, count: padding - 1)
            zeros.withUnsafeBytes { s.output.append($0) }
        }
        s.events.append(.bodySent(streamID: frame.pointee.hd.stream_id, count: length))
        return 0
    }
}
