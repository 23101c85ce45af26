/// Why a message was not accepted. A query that fails to decode is dropped without an
/// answer (answering garbage would let a forged source address aim our replies at a
/// victim) and counted.
public enum DNSDecodeError: Error, Equatable, Sendable {
    /// Shorter than the 12-byte header.
    case shortHeader
    /// QR is set: a response, never answered (two servers must not answer each other).
    case notAQuery
    /// QDCOUNT is not 1 (RFC 9619: a query has exactly one question).
    case questionCount
    /// A name, record or field runs past the end of the message.
    case truncated
    /// A label length with the reserved 0x40 or 0x80 bits (RFC 6891 §5 retired extended labels).
    case badLabelType
    /// A name longer than 255 bytes on the wire (RFC 1035 §2.3.4).
    case nameTooLong
    /// A compression pointer that does not point strictly before the name part it ends, so
    /// following it could loop.
    case compressionLoop
    /// A name that follows more than `DNSName.maxPointers` compression pointers.
    case tooManyPointers
    /// A compression pointer into the header or past the end of the message.
    case pointerOutOfRange
    /// More than one OPT record, or an OPT record not owned by the root name (RFC 6891 §6.1.1).
    case badOPT
    /// Bytes left after the last record the header announces.
    case trailingBytes
}
