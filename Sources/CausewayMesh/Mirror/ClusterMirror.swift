/// A proxy's copy of one linked cluster's exported services, kept from that cluster
/// gateway's export stream, and the lease that bounds how long it is trusted once the
/// stream is gone.
///
/// Pure: the subscriber feeds it messages and stream events with the time (monotonic
/// nanoseconds); the control thread reads `services` and `lease(now:)` to build tables.
///
/// Updates apply whole or not at all: a message that does not follow from the current
/// state (an update before any snapshot, a version that does not grow, a removal of a
/// service the mirror does not hold) changes nothing and is `rejected`, and the subscriber
/// resynchronises from a fresh snapshot.
public struct ClusterMirror: Sendable {
    /// Where the stream stands.
    public enum Stream: Equatable, Sendable {
        /// No snapshot has arrived yet on any stream.
        case neverSynced
        /// A snapshot arrived on the current stream, at `since`.
        case live(since: UInt64)
        /// The stream that fed the mirror ended at `since`; the entries age under the lease.
        case lost(since: UInt64)
    }

    /// How the lease treats the entries.
    public enum Lease: Equatable, Sendable {
        /// Live stream (or nothing to age).
        case fresh
        /// Lost for at least the stale time: still served, flagged.
        case stale
        /// Lost for at least the removal time: the entries are dropped from tables.
        case expired
    }

    /// How long entries of a lost stream are served, nanoseconds.
    public struct LeasePolicy: Equatable, Sendable {
        /// Lost this long: `stale`. Default 30 s.
        public var staleAfterNanos: UInt64
        /// Lost this long: `expired`. Default 5 min. At least `staleAfterNanos`.
        public var removeAfterNanos: UInt64

        public init(staleAfterNanos: UInt64 = 30_000_000_000, removeAfterNanos: UInt64 = 300_000_000_000) {
            precondition(removeAfterNanos >= staleAfterNanos, "entries are removed no sooner than they turn stale")
            self.staleAfterNanos = staleAfterNanos
            self.removeAfterNanos = removeAfterNanos
        }
    }

    /// Outcome of `apply`.
    public enum Outcome: Equatable, Sendable {
        /// Applied; `changed` when the services differ from before.
        case applied(changed: Bool)
        /// Not applied (nothing changed): resynchronise.
        case rejected(reason: String)
    }

    /// One mirrored service and the version at which it last changed.
    public struct Entry: Equatable, Sendable {
        public let service: ExportedService
        public let changedAt: UInt64
    }

    /// The linked cluster.
    public let cluster: String
    /// The mirrored services, by key.
    public private(set) var entries: [ServiceKey: Entry] = [:]
    /// The version the mirror is at; nil before the first snapshot.
    public private(set) var version: UInt64?
    /// Stream state.
    public private(set) var stream = Stream.neverSynced
    /// When a message last arrived (monotonic ns); nil before the first.
    public private(set) var lastHeard: UInt64?
    /// Snapshots applied after the first: reconnects and resynchronisations.
    public private(set) var resyncs = 0
    /// The heartbeat interval the gateway announced, milliseconds; nil before a snapshot.
    public private(set) var heartbeatMillis: Int?

    public init(cluster: String) {
        self.cluster = cluster
    }

    /// Applies one message received at `now` on the current stream.
    public mutating func apply(_ message: MirrorMessage, now: UInt64) -> Outcome {
        switch message {
        case .snapshot(let snapshot):
            guard snapshot.cluster == cluster else {
                return .rejected(reason: "the gateway publishes cluster \"\(snapshot.cluster)\", not \"\(cluster)\"")
            }
            var next: [ServiceKey: Entry] = [:]
            for s in snapshot.services {
                // A service unchanged since the last table keeps the version it changed at.
                if let old = entries[s.key], old.service == s { next[s.key] = old } else { next[s.key] = Entry(service: s, changedAt: snapshot.version) }
            }
            let changed = next.mapValues(\.service) != entries.mapValues(\.service)
            if version != nil { resyncs += 1 }
            entries = next
            version = snapshot.version
            heartbeatMillis = snapshot.heartbeatMillis
            stream = .live(since: now)
            lastHeard = now
            return .applied(changed: changed)
        case .update(let newVersion, let upserts, let removals):
            guard case .live = stream, let current = version else {
                return .rejected(reason: "an update before the stream's snapshot")
            }
            guard newVersion > current else {
                return .rejected(reason: "update to version \(newVersion) while at \(current)")
            }
            var next = entries
            for key in removals {
                guard next.removeValue(forKey: key) != nil else {
                    return .rejected(reason: "update \(newVersion) removes \(key), which the mirror does not hold")
                }
            }
            for s in upserts {
                if removals.contains(s.key) { return .rejected(reason: "update \(newVersion) both changes and removes \(s.key)") }
                next[s.key] = Entry(service: s, changedAt: newVersion)
            }
            entries = next
            version = newVersion
            lastHeard = now
            return .applied(changed: true)
        case .heartbeat(let at):
            guard case .live = stream, let current = version else {
                return .rejected(reason: "a heartbeat before the stream's snapshot")
            }
            guard at == current else {
                return .rejected(reason: "heartbeat at version \(at) while the mirror is at \(current): an update was missed")
            }
            lastHeard = now
            return .applied(changed: false)
        }
    }

    /// The stream feeding the mirror ended (or was given up) at `now`. Entries stay, aging
    /// under the lease, until a new stream's snapshot replaces them.
    public mutating func streamLost(now: UInt64) {
        if case .live = stream { stream = .lost(since: now) }
    }

    /// The lease's verdict at `now`.
    public func lease(now: UInt64, policy: LeasePolicy) -> Lease {
        guard case .lost(let since) = stream else { return .fresh }
        let gone = now &- since
        if gone >= policy.removeAfterNanos { return .expired }
        if gone >= policy.staleAfterNanos { return .stale }
        return .fresh
    }

    /// When the lease changes next after `now` (monotonic ns), or nil if it will not
    /// change without a stream event: the control thread's timer.
    public func nextLeaseChange(after now: UInt64, policy: LeasePolicy) -> UInt64? {
        guard case .lost(let since) = stream else { return nil }
        switch lease(now: now, policy: policy) {
        case .fresh: return since &+ policy.staleAfterNanos
        case .stale: return since &+ policy.removeAfterNanos
        case .expired: return nil
        }
    }

    /// Mirrored services sorted by namespace then name, for tables and the admin view.
    public var sortedEntries: [Entry] {
        entries.values.sorted { ($0.service.key.namespace, $0.service.key.name) < ($1.service.key.namespace, $1.service.key.name) }
    }
}
