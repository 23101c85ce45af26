/// Which virtual IP each Service name gets: the same in every proxy that knows the same
/// names, whatever order it learned them in, and independent of the other names except
/// when two want the same address.
///
/// **The rule.** Each name (a Service's canonical form, `webapp.production`,
/// `webapp-cluster2.production`, `webapp.production.svc.clusterset.local`) wants the
/// virtual IP number `SplitMix64(seed: FNV-1a-64(name)).next() mod capacity` of the range
/// (`VirtualIPRange.address(at:)`: the range's first address + 1 + that number). Names are
/// placed in byte order; a name whose address is taken takes the next free one (number + 1,
/// wrapping around). So a name's address depends only on the name and the range unless a
/// name that sorts before it collides with it. With `n` names in a range of `c` addresses,
/// about `n²/2c` pairs collide (0.08 for 100 names in a /16, 7.6 for 1,000); each collision
/// is reported (`collisions`) and logged. When the range holds fewer addresses than there
/// are names, the names that sort last get none (`unallocated`).
public struct VirtualIPAllocation: Sendable {
    /// The range addresses come from.
    public let range: VirtualIPRange
    /// The virtual IP number of each allocated name.
    private let numbers: [String: UInt64]
    /// Names whose preferred address was taken, with the name that had it, in name order.
    public let collisions: [(name: String, takenBy: String, address: String)]
    /// Names left without an address because the range is full.
    public let unallocated: [String]

    /// Allocates addresses from `range` for `names` (duplicates count once).
    public init(names: [String], range: VirtualIPRange) {
        self.range = range
        let sorted = Array(Set(names)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let capacity = range.capacity
        var numbers: [String: UInt64] = [:]
        var owners: [UInt64: String] = [:]
        var collisions: [(String, String, String)] = []
        var unallocated: [String] = []
        numbers.reserveCapacity(sorted.count)
        for name in sorted {
            guard UInt64(owners.count) < capacity else {
                unallocated.append(name)
                continue
            }
            let wanted = Self.preferredNumber(of: name, capacity: capacity)
            var number = wanted
            while owners[number] != nil { number = number + 1 == capacity ? 0 : number + 1 }
            if number != wanted, let owner = owners[wanted] {
                collisions.append((name, owner, VirtualIPRange.text(of: range.address(at: wanted))))
            }
            owners[number] = name
            numbers[name] = number
        }
        self.numbers = numbers
        self.collisions = collisions
        self.unallocated = unallocated
    }

    /// The address of `name` (4 or 16 bytes, network order), or nil when it has none (it is
    /// not one of the names, or the range is full).
    public func address(of name: String) -> [UInt8]? {
        numbers[name].map(range.address(at:))
    }

    /// The number of addresses handed out.
    public var count: Int { numbers.count }

    /// The number a name wants: its hash reduced to the range.
    public static func preferredNumber(of name: String, capacity: UInt64) -> UInt64 {
        var fnv: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        var mix = SplitMixHash(seed: fnv)
        return mix.next() % capacity
    }
}

/// SplitMix64's output function (the same as `CausewayMesh.SplitMix64`), spelled out here
/// because the virtual IP rule depends on it and must never change with that generator.
private struct SplitMixHash {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
