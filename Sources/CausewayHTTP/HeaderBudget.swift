/// What one received header block may still cost: RFC 9113 §6.5.2's size (name + value +
/// 32 per field) and a field count, charged field by field as nghttp2 decodes them.
///
/// The limits are enforced by us because nghttp2 1.52 only advertises
/// SETTINGS_MAX_HEADER_LIST_SIZE. Past the limit the block is "over" (fields are dropped,
/// the request can still be answered 431); past twice the limit it is "far" over, and
/// decoding callbacks stop for that block, so an HPACK bomb costs neither memory nor the
/// CPU of validating 100,000 references to one table entry.
public struct HeaderBudget: Sendable, Equatable {
    /// Most bytes a block may hold, counted as RFC 9113 does.
    public let maxSize: Int
    /// Most fields a block may hold.
    public let maxFields: Int
    /// Charged so far.
    public private(set) var size = 0
    public private(set) var fields = 0

    /// The result of charging one field.
    public enum Verdict: Equatable {
        /// Still within both limits: keep the field.
        case within
        /// Over a limit: drop the field, the block is refused.
        case over
        /// Twice over a limit: stop decoding this block.
        case far
    }

    public init(maxSize: Int, maxFields: Int) {
        self.maxSize = maxSize
        self.maxFields = maxFields
    }

    /// True once any field went over a limit.
    public var exceeded: Bool { size > maxSize || fields > maxFields }

    /// Charges one field of `nameLength` + `valueLength` bytes. Runs for every received
    /// field, so it is inlined into nghttp2's header callback.
    @inline(__always)
    public mutating func charge(nameLength: Int, valueLength: Int) -> Verdict {
        size &+= nameLength &+ valueLength &+ 32
        fields &+= 1
        if size > 2 &* maxSize || fields > 2 &* maxFields { return .far }
        return exceeded ? .over : .within
    }
}
