/// Checks an upstream server's answer before it is relayed: it must be a response to the
/// question that was forwarded. Together with the random id it was sent with, the random
/// source port it left from and the upstream's address (the socket is connected to it),
/// this makes a forged reply hard to slip in.
public struct DNSUpstreamReply: Sendable {
    public let header: DNSHeader

    /// Why an upstream reply is dropped.
    public enum Rejection: Error, Equatable, Sendable {
        /// Not a DNS response at all (short, QR not set).
        case notAResponse
        /// Its question is not the one forwarded with that id.
        case questionMismatch
        /// Its question could not be read.
        case malformed(DNSDecodeError)
    }

    /// Inspects `message`, a reply expected to answer `question`.
    public static func inspect(_ message: UnsafeRawBufferPointer, answering question: DNSQuestion) throws(Rejection) -> DNSUpstreamReply {
        guard let header = DNSHeader(message), header.isResponse else { throw .notAResponse }
        guard header.questionCount == 1 else { throw .questionMismatch }
        let name: DNSName
        let afterName: Int
        do {
            (name, afterName) = try DNSName.read(message, at: DNSHeader.size)
        } catch {
            throw .malformed(error)
        }
        guard afterName + 4 <= message.count else { throw .malformed(.truncated) }
        guard name == question.name, Wire.u16(message, afterName) == question.type, Wire.u16(message, afterName + 2) == question.class
        else { throw .questionMismatch }
        return DNSUpstreamReply(header: header)
    }

    /// The id of the message in `bytes` (at least 2 bytes), or nil.
    public static func id(of bytes: UnsafeRawBufferPointer) -> UInt16? {
        bytes.count >= 2 ? Wire.u16(bytes, 0) : nil
    }

    /// Replaces the id of the message in `bytes` (at least 2 bytes long): forwarded queries
    /// carry an id of ours, relayed answers the client's again.
    public static func setID(_ id: UInt16, in bytes: inout [UInt8]) {
        Wire.put(id, at: 0, in: &bytes)
    }
}
