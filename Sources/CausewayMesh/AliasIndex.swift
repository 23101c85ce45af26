/// An immutable map from DNS aliases (lowercase ASCII bytes) to service indexes, built once per
/// snapshot and probed on every request without allocating.
///
/// Layout: all alias bytes live in one flat `[UInt8]`; an open-addressing table (linear
/// probing, power-of-two capacity, load factor at most 1/2) holds, per slot, the alias's full
/// hash, its range in the flat bytes and its service. Comparing the stored hash first makes
/// almost every mismatch a single integer compare.
struct AliasIndex: Sendable {
    private struct Slot: Sendable {
        var hash: UInt64
        var start: Int32
        var length: Int32
        /// Service index, or -1 for an empty slot.
        var service: Int32

        static let empty = Slot(hash: 0, start: 0, length: 0, service: -1)
    }

    private let bytes: [UInt8]
    private let slots: [Slot]
    private let mask: Int
    /// Length of the longest alias, so scanning can give up early on longer names.
    let maxAliasLength: Int

    /// Builds the index. Aliases are lowercased here. When two aliases are equal, the first
    /// one given wins: service names are DNS labels, so this only happens for repeated input.
    init(aliases: [(name: String, service: Int)]) {
        var capacity = 8
        while capacity < aliases.count * 2 { capacity *= 2 }
        var bytes: [UInt8] = []
        var slots = [Slot](repeating: .empty, count: capacity)
        var maxLength = 0
        let mask = capacity - 1

        for alias in aliases {
            let lowered = alias.name.utf8.map(AliasHash.lowercase)
            precondition(!lowered.isEmpty, "an alias must not be empty")
            precondition(alias.service >= 0 && alias.service <= Int(Int32.max), "service index out of range")
            let hash = AliasHash.hash(lowered)
            var position = Int(truncatingIfNeeded: hash) & mask
            var duplicate = false
            while slots[position].service >= 0 {
                let slot = slots[position]
                if slot.hash == hash, Int(slot.length) == lowered.count,
                   bytes[Int(slot.start)..<Int(slot.start + slot.length)].elementsEqual(lowered) {
                    duplicate = true
                    break
                }
                position = (position + 1) & mask
            }
            if duplicate { continue }
            precondition(bytes.count + lowered.count <= Int(Int32.max), "alias bytes exceed 2 GiB")
            slots[position] = Slot(
                hash: hash, start: Int32(bytes.count), length: Int32(lowered.count), service: Int32(alias.service))
            bytes.append(contentsOf: lowered)
            maxLength = max(maxLength, lowered.count)
        }
        self.bytes = bytes
        self.slots = slots
        self.mask = mask
        self.maxAliasLength = maxLength
    }

    /// The service whose alias equals the first `name.length` bytes of `authority`, compared
    /// ASCII case-insensitively. Does not allocate.
    func lookup(_ name: AuthorityName, in authority: UnsafeRawBufferPointer) -> Int? {
        bytes.withUnsafeBufferPointer { aliasBytes in
            slots.withUnsafeBufferPointer { slots in
                var position = Int(truncatingIfNeeded: name.hash) & mask
                while true {
                    let slot = slots[position]
                    if slot.service < 0 { return nil }
                    if slot.hash == name.hash, Int(slot.length) == name.length,
                       Self.equalsLowercased(authority, aliasBytes, from: Int(slot.start), count: name.length) {
                        return Int(slot.service)
                    }
                    position = (position + 1) & mask
                }
            }
        }
    }

    @inline(__always)
    private static func equalsLowercased(
        _ authority: UnsafeRawBufferPointer, _ alias: UnsafeBufferPointer<UInt8>, from start: Int, count: Int
    ) -> Bool {
        for i in 0..<count where AliasHash.lowercase(authority[i]) != alias[start + i] {
            return false
        }
        return true
    }
}
