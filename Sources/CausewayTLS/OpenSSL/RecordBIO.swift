import COpenSSL

/// A BIO method whose reads and writes go to a connection's `TLSRecordBuffers`: the
/// bridging file between OpenSSL's BIO callbacks and Swift buffers (see
/// docs/decisions/0004 for why not `BIO_s_mem`).
///
/// The BIO's data pointer is the buffers object, unretained: the connection owns both the
/// buffers and the `SSL` (which owns the BIO) and frees the `SSL` first.
enum RecordBIO {
    /// Creates a BIO over `buffers`. Pass it to `SSL_set_bio` as both read and write BIO;
    /// the `SSL` then owns it.
    static func make(over buffers: TLSRecordBuffers) -> OpaquePointer {
        guard let bio = BIO_new(method) else { preconditionFailure("BIO_new failed: out of memory") }
        BIO_set_data(bio, Unmanaged.passUnretained(buffers).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    /// The method table, made once per process and never freed (OpenSSL only reads it,
    /// and every BIO made from it refers to it for its whole life).
    /// `nonisolated(unsafe)`: initialised once by Swift's thread-safe lazy global
    /// initialisation, read-only afterwards.
    nonisolated(unsafe) private static let method: OpaquePointer = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "causeway-records") else {
            preconditionFailure("BIO_meth_new failed: out of memory")
        }
        BIO_meth_set_write(method, write)
        BIO_meth_set_read(method, read)
        BIO_meth_set_ctrl(method, control)
        return method
    }()

    @inline(__always)
    private static func buffers(_ bio: OpaquePointer?) -> TLSRecordBuffers {
        Unmanaged<TLSRecordBuffers>.fromOpaque(BIO_get_data(bio)!).takeUnretainedValue()
    }

    private static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = { bio, data, length in
        guard let data, length > 0 else { return 0 }
        causeway_BIO_clear_retry_flags(bio)
        buffers(bio).write(UnsafeRawBufferPointer(start: data, count: Int(length)))
        return length
    }

    private static let read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int32) -> Int32 = { bio, destination, length in
        guard let destination, length > 0 else { return 0 }
        causeway_BIO_clear_retry_flags(bio)
        let records = buffers(bio)
        let n = records.read(into: UnsafeMutableRawBufferPointer(start: destination, count: Int(length)))
        if n > 0 { return Int32(n) }
        if records.endOfStream { return 0 }
        // Nothing buffered yet: "try again", which SSL reports as SSL_ERROR_WANT_READ.
        causeway_BIO_set_retry_read(bio)
        return -1
    }

    private static let control: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = { bio, command, _, _ in
        switch command {
        case BIO_CTRL_FLUSH: return 1
        case BIO_CTRL_PENDING: return buffers(bio).input.readableBytes
        case BIO_CTRL_WPENDING: return buffers(bio).pendingOutput
        case BIO_CTRL_EOF:
            let records = buffers(bio)
            return records.endOfStream && records.input.isEmpty ? 1 : 0
        default: return 0
        }
    }
}
