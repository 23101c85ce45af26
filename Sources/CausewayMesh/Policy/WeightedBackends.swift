/// Splits a rule's requests over its backends in proportion to their weights, interleaved
/// (smooth weighted round robin, `SmoothWeightedPicker`): 90/10 sends one request in ten to
/// the second backend, spread out rather than in runs of nine.
///
/// One per worker per rule: no synchronisation, no allocation per pick. A backend with weight
/// 0 (or less) receives nothing.
public struct WeightedBackends: Sendable {
    private let weights: [Int]
    private var picker: SmoothWeightedPicker

    /// A splitter over `weights.count` backends; negative weights count as 0.
    public init(weights: [Int]) {
        self.weights = weights.map { max(0, $0) }
        picker = SmoothWeightedPicker(count: weights.count)
    }

    /// Number of backends.
    public var count: Int { weights.count }

    /// The weight of backend `index` as used (0 for a negative or out-of-range index).
    public func weight(_ index: Int) -> Int {
        weights.indices.contains(index) ? weights[index] : 0
    }

    /// The next backend among those with weight > 0 for which `eligible` is true (say, whose
    /// Service has a ready endpoint), or nil when there is none. An ineligible backend loses its
    /// turns; the others keep their proportions among themselves.
    public mutating func next(eligible: (Int) -> Bool = { _ in true }) -> Int? {
        // A local copy: the weight closure must not read `self` while `picker` is mutated.
        let weights = self.weights
        return picker.next(weight: { weights[$0] }, eligible: eligible)
    }
}
