/// Cuts a byte stream into `\n`-terminated lines, bounded: a line longer than `maxLineBytes`
/// is an error rather than a growing buffer (the stream comes from another cluster).
///
/// Bytes of an unfinished line are copied once into `pending`; complete lines inside one
/// input buffer are handed out without a copy.
public struct LineSplitter: Sendable {
    /// Largest line accepted, newline excluded.
    public let maxLineBytes: Int
    private var pending: [UInt8] = []

    /// A line went past the bound.
    public struct LineTooLong: Error, Equatable, Sendable {}

    public init(maxLineBytes: Int) {
        precondition(maxLineBytes > 0, "a line bound must be positive")
        self.maxLineBytes = maxLineBytes
    }

    /// Feeds `bytes`; calls `line` for each complete line (without `\n`, and without a `\r`
    /// before it). Empty lines are skipped. Throws, leaving the splitter unusable, when a line
    /// exceeds the bound.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, line: (UnsafeRawBufferPointer) throws -> Void) throws {
        var start = 0
        for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\n") {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            if pending.isEmpty {
                try emit(piece, line)
            } else {
                guard pending.count + piece.count <= maxLineBytes + 1 else { throw LineTooLong() }
                pending.append(contentsOf: piece)
                let whole = pending
                pending.removeAll(keepingCapacity: true)
                try whole.withUnsafeBytes { try emit($0, line) }
            }
            start = i + 1
        }
        let rest = bytes.count - start
        guard rest > 0 else { return }
        guard pending.count + rest <= maxLineBytes + 1 else { throw LineTooLong() }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...]))
    }

    /// Bytes of an unfinished line held.
    public var pendingBytes: Int { pending.count }

    private func emit(_ piece: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) throws -> Void) throws {
        var body = piece
        if let last = body.last, last == UInt8(ascii: "\r") { body = UnsafeRawBufferPointer(rebasing: body.dropLast()) }
        guard !body.isEmpty else { return }
        guard body.count <= maxLineBytes else { throw LineTooLong() }
        try line(body)
    }
}
