/// Spreads picks over weighted choices in proportion to their weights, interleaved rather
/// than in runs (nginx's smooth weighted round robin): weights 3 and 1 give A A B A, A A B A.
///
/// One per worker per clusterset service: no synchronisation, no allocation per pick. The
/// caller says on each pick which choices are eligible (ready, and serving the request's
/// port), so a choice that drops out loses its turns without disturbing the others'
/// proportions.
public struct SmoothWeightedPicker: Sendable {
    private var current: [Int]

    /// A picker over `count` choices.
    public init(count: Int) {
        current = Array(repeating: 0, count: count)
    }

    /// Number of choices.
    public var count: Int { current.count }

    /// The next choice among `0..<count` for which `eligible(i)` is true and `weight(i) > 0`,
    /// or nil when there is none.
    public mutating func next(weight: (Int) -> Int, eligible: (Int) -> Bool) -> Int? {
        var total = 0
        var best = -1
        for i in current.indices {
            let w = weight(i)
            guard w > 0, eligible(i) else { continue }
            current[i] &+= w
            total &+= w
            if best < 0 || current[i] > current[best] { best = i }
        }
        guard best >= 0 else { return nil }
        current[best] &-= total
        return best
    }
}
