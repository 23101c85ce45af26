/// The category a rate-limited diagnostic line belongs to, e.g. `"tls-refused"`.
///
/// Keys come from the code (a literal at each call site), never from a peer: the limiter
/// keeps one bucket per key for the producer's lifetime, so a peer-chosen key would let a
/// peer grow that table.
public struct LogKey: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: StaticString) { name = value.description }

    public var description: String { name }
}
