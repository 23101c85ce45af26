import CausewayBytes

/// Gathering writes: HTTP/2 output is a list of segments (9-byte frame headers, small
/// frames, DATA payloads by reference). One `SSL_write` per segment would put each frame
/// header in a record of its own (22 bytes of overhead and one AEAD operation for 9 bytes);
/// packing segments into 16 KiB records keeps records full-size whenever there is enough
/// plaintext.
extension TLSConnection {
    /// Encrypts everything in `queue` and consumes it, packing consecutive segments into
    /// records of 16 KiB (only the last record of the call may be shorter). A run of at
    /// least 16 KiB inside one segment is encrypted in place; shorter pieces are copied into
    /// a 16 KiB staging buffer first.
    ///
    /// - Returns: the bytes consumed from `queue`: all of them on an open connection, 0
    ///   before the handshake completes or after `shutdown()`. After a failure (reported by
    ///   `readPlaintext`) the rest of the queue is left in place.
    public func writePlaintext(draining queue: inout OutputQueue) -> Int {
        guard case .open = phase, !queue.isEmpty else { return 0 }
        let record = Self.maxRecordPlaintext
        return withUnsafeTemporaryAllocation(byteCount: record, alignment: 16) { staging -> Int in
            var staged = 0
            var total = 0
            while !queue.isEmpty, isOpen {
                let consumed = queue.withSegments(maxSegments: 64) { segments -> Int in
                    var consumed = 0
                    for (base, count) in segments {
                        var offset = 0
                        while offset < count {
                            let left = count - offset
                            if staged == 0 && left >= record {
                                guard encrypt(UnsafeRawBufferPointer(start: base + offset, count: record)) else { return consumed + offset }
                                offset += record
                            } else {
                                let n = min(left, record - staged)
                                (staging.baseAddress! + staged).copyMemory(from: base + offset, byteCount: n)
                                staged += n
                                offset += n
                                if staged == record {
                                    staged = 0
                                    guard encrypt(UnsafeRawBufferPointer(staging)) else { return consumed + offset }
                                }
                            }
                        }
                        consumed += count
                    }
                    return consumed
                }
                queue.consume(consumed)
                total += consumed
            }
            if staged > 0 {
                _ = encrypt(UnsafeRawBufferPointer(rebasing: staging[0..<staged]))
            }
            return total
        }
    }

    private var isOpen: Bool {
        if case .open = phase { return true }
        return false
    }

    /// One `SSL_write` of `bytes` (at most one record). False when the connection failed.
    private func encrypt(_ bytes: UnsafeRawBufferPointer) -> Bool {
        writePlaintext(bytes) == bytes.count
    }
}
