import CausewayBytes

/// The ciphertext on both sides of one connection's BIO (see docs/decisions/0004).
///
/// Input: bytes fed from the socket wait in a `ChunkQueue` until OpenSSL reads them.
/// Output: OpenSSL's records are copied once, into 16 KiB chunks owned here, and handed to
/// the caller's `OutputQueue` by reference, so they reach `writev` without another copy.
/// A chunk keeps being filled across takes while the socket is slow (small records pack
/// together) and is reused from the start once nothing refers to it any more. Both sides
/// let go of their chunks when the connection goes idle, so an idle connection holds no
/// buffers (the same aim as `SSL_MODE_RELEASE_BUFFERS`).
///
/// Owned by one connection on one thread.
final class TLSRecordBuffers {
    /// Ciphertext received and not yet read by OpenSSL.
    private(set) var input = ChunkQueue()
    /// True once the transport reported end of stream; OpenSSL then sees EOF after the
    /// buffered input.
    var endOfStream = false
    /// The first byte ever received, for telling a plaintext client from a TLS one.
    private(set) var firstByte: UInt8?

    /// A run of ciphertext in a chunk, not yet given to the caller.
    private struct Run {
        let chunk: ByteChunk
        let start: Int
        var end: Int
    }

    /// The chunk records are being copied into.
    private var chunk: ByteChunk?
    /// Ciphertext written by OpenSSL and not yet taken, in order.
    private var runs: [Run] = []
    /// Total bytes in `runs`.
    private(set) var pendingOutput = 0

    // MARK: Input (socket → OpenSSL)

    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if firstByte == nil { firstByte = bytes[0] }
        input.append(bytes)
    }

    /// OpenSSL's read: up to `destination.count` bytes; 0 when nothing is buffered.
    func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        input.read(into: destination)
    }

    /// Up to `limit` of the first bytes received and still buffered, for error messages.
    func peekInput(limit: Int) -> [UInt8] {
        guard let run = input.peek(limit: limit) else { return [] }
        return Array(UnsafeRawBufferPointer(start: run.chunk.base + run.offset, count: run.count))
    }

    // MARK: Output (OpenSSL → socket)

    /// OpenSSL's write: copies all of `bytes` (the BIO never pushes back; the caller bounds
    /// output by what it asks to encrypt).
    func write(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            let target = chunkWithRoom()
            let start = target.writeIndex
            let n = target.append(rest)
            if let last = runs.last, last.chunk === target, last.end == start {
                runs[runs.count - 1].end += n
            } else {
                runs.append(Run(chunk: target, start: start, end: start + n))
            }
            pendingOutput += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Appends every pending run to `queue` by reference.
    func moveOutput(into queue: inout OutputQueue) {
        for run in runs {
            queue.appendReference(run.chunk, offset: run.start, count: run.end - run.start)
        }
        runs.removeAll(keepingCapacity: true)
        pendingOutput = 0
    }

    /// Lets go of buffers that hold nothing the connection or a queue still needs. Called
    /// when the connection waits for the peer.
    func releaseIdleBuffers() {
        if input.isEmpty { input.removeAll() }
        if runs.isEmpty, var current = chunk {
            chunk = nil
            // Still referenced by an unwritten OutputQueue: keep filling it instead.
            if !isKnownUniquelyReferenced(&current) { chunk = current }
        }
    }

    private func chunkWithRoom() -> ByteChunk {
        if let current = chunk, current.writableBytes > 0 { return current }
        if var full = chunk {
            chunk = nil
            // Everything in it has been written (no run, no queue holds it): start over.
            if isKnownUniquelyReferenced(&full) {
                full.reset()
                chunk = full
                return full
            }
        }
        let fresh = ByteChunk.make()
        chunk = fresh
        return fresh
    }
}
