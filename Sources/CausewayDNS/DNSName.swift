/// A domain name read from a message: its labels joined by `.`, ASCII-lowercased, without a
/// trailing dot (the root is empty).
///
/// Mesh names are compared in this form; the bytes the client sent (their case included, as
/// resolvers using 0x20 randomisation check) are echoed from the message itself.
public struct DNSName: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The lowercased text form.
    public let text: [UInt8]
    /// True when every label holds only letters, digits, `-` and `_`: only such a name can
    /// name a Service. A label holding a `.` (possible on the wire) or any other byte makes
    /// this false, so the name is never taken apart at the wrong place.
    public let isHostname: Bool

    init(text: [UInt8], isHostname: Bool) {
        self.text = text
        self.isHostname = isHostname
    }

    /// A name from its text (`webapp.production.svc.cluster.local`, one optional trailing
    /// dot). For tests and configuration, not the wire.
    public init(_ text: String) {
        var bytes = Array(text.utf8).map(Self.lowercase)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        self.text = bytes
        self.isHostname = !bytes.isEmpty && bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            .allSatisfy { !$0.isEmpty && $0.allSatisfy(Self.isHostnameByte) }
    }

    public var description: String { String(decoding: text, as: UTF8.self) }

    /// True when the name is `suffix` or ends with `.` + `suffix` (lowercase text).
    public func isWithin(_ suffix: [UInt8]) -> Bool {
        if text.count == suffix.count { return text == suffix }
        guard text.count > suffix.count else { return false }
        let start = text.count - suffix.count
        return text[start - 1] == UInt8(ascii: ".") && text[start...].elementsEqual(suffix)
    }

    @inline(__always)
    static func lowercase(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    @inline(__always)
    static func isHostnameByte(_ byte: UInt8) -> Bool {
        (byte &- UInt8(ascii: "a") < 26) || (byte &- UInt8(ascii: "0") < 10) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }

    /// Most bytes of a name on the wire, its length octets and the root's included.
    public static let maxWireLength = 255
    /// Most bytes of one label.
    public static let maxLabelLength = 63
    /// Offset of the first name in a message: compression pointers must point at or after it.
    static let firstNameOffset = DNSHeader.size
    /// Most compression pointers one name may follow, as common resolvers cap them (a real
    /// name needs one; a chain of pointers to pointers is only ever an attack on the CPU).
    public static let maxPointers = 16

    /// Reads the name that starts at `offset` of `message`, following compression pointers
    /// (RFC 1035 §4.1.4). Returns the name and the offset just after it where it started
    /// (after the first pointer, if any).
    ///
    /// Bounded: a pointer must point into the message after the header and strictly before
    /// the start of the name part it ends (the first byte read, or the previous pointer's
    /// target), so every jump goes to a smaller offset and a loop is impossible; at most
    /// `maxPointers` pointers are followed; the name may not exceed 255 bytes on the wire.
    public static func read(_ message: UnsafeRawBufferPointer, at offset: Int) throws(DNSDecodeError) -> (name: DNSName, next: Int) {
        var hops = 0
        return try read(message, at: offset, hops: &hops)
    }

    /// `read`, adding the pointers it follows to `hops` (the tests count them).
    static func read(_ message: UnsafeRawBufferPointer, at offset: Int, hops: inout Int) throws(DNSDecodeError) -> (name: DNSName, next: Int) {
        var position = offset
        var segmentStart = offset
        var next: Int?
        var wireLength = 1  // the root label's zero byte
        var pointers = 0
        var text: [UInt8] = []
        var isHostname = true
        while true {
            guard position < message.count else { throw .truncated }
            let length = Int(message[position])
            switch length & 0xc0 {
            case 0x00:
                if length == 0 {
                    if text.isEmpty { isHostname = false }
                    return (DNSName(text: text, isHostname: isHostname), next ?? position + 1)
                }
                wireLength += length + 1
                guard wireLength <= maxWireLength else { throw .nameTooLong }
                guard position + 1 + length <= message.count else { throw .truncated }
                if !text.isEmpty { text.append(UInt8(ascii: ".")) }
                for i in (position + 1)...(position + length) {
                    let byte = lowercase(message[i])
                    if !isHostnameByte(byte) { isHostname = false }
                    text.append(byte)
                }
                position += 1 + length
            case 0xc0:
                guard position + 1 < message.count else { throw .truncated }
                let target = (length & 0x3f) << 8 | Int(message[position + 1])
                guard target >= firstNameOffset, target < message.count else { throw .pointerOutOfRange }
                guard target < segmentStart else { throw .compressionLoop }
                guard pointers < maxPointers else { throw .tooManyPointers }
                pointers += 1
                hops += 1
                if next == nil { next = position + 2 }
                position = target
                segmentStart = target
            default:
                throw .badLabelType
            }
        }
    }

    /// Walks over the name at `offset` without reading it and without following any
    /// compression pointer: a pointer ends the name (its 2 bytes are the name's last), so the
    /// work is the name's own bytes, never what it points at. What can be checked without
    /// following is: label types, the labels and the pointer within the message, at most
    /// 255 bytes up to the root or the pointer, and the pointer's target after the header
    /// and strictly before the name. Returns the offset just after the name and whether the
    /// name is the root written as its one zero byte.
    public static func skip(_ message: UnsafeRawBufferPointer, at offset: Int) throws(DNSDecodeError) -> (next: Int, isRoot: Bool) {
        var position = offset
        var wireLength = 1
        while true {
            guard position < message.count else { throw .truncated }
            let length = Int(message[position])
            switch length & 0xc0 {
            case 0x00:
                if length == 0 { return (position + 1, position == offset) }
                wireLength += length + 1
                guard wireLength <= maxWireLength else { throw .nameTooLong }
                guard position + 1 + length <= message.count else { throw .truncated }
                position += 1 + length
            case 0xc0:
                guard position + 1 < message.count else { throw .truncated }
                let target = (length & 0x3f) << 8 | Int(message[position + 1])
                guard target >= firstNameOffset, target < message.count else { throw .pointerOutOfRange }
                guard target < offset else { throw .compressionLoop }
                return (position + 2, false)
            default:
                throw .badLabelType
            }
        }
    }

    /// Appends the name in uncompressed wire form. `text` must be a valid name (labels of
    /// 1–63 bytes, at most 255 in all); the root is one zero byte.
    public func write(to out: inout [UInt8]) {
        if !text.isEmpty {
            for label in text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
                out.append(UInt8(label.count))
                out.append(contentsOf: label)
            }
        }
        out.append(0)
    }
}
