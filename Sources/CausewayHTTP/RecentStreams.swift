/// The last few stream ids that closed on a session, in a fixed ring: enough to tell a late
/// frame on a stream we just closed (allowed to race with our RST_STREAM) from a frame on a
/// stream that never existed. Costs no allocation after the first insert.
struct RecentStreams {
    private var ids: [Int32] = []
    private var next = 0
    /// How many ids are remembered.
    static let capacity = 128

    mutating func insert(_ id: Int32) {
        if ids.count < Self.capacity {
            ids.append(id)
        } else {
            ids[next] = id
            next = (next + 1) % Self.capacity
        }
    }

    func contains(_ id: Int32) -> Bool { ids.contains(id) }
}
