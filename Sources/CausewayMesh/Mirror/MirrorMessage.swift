/// One message of a gateway's export stream (the wire format is in docs/mirroring.md).
///
/// A stream is a `snapshot` first, then any number of `update`s and `heartbeat`s. Versions
/// only grow: an update carries the version it brings the table to, a heartbeat the
/// version the table is at.
public enum MirrorMessage: Equatable, Sendable {
    /// The whole table: the subscriber replaces its mirror of `cluster` with it.
    case snapshot(Snapshot)
    /// Services added or changed (`upserts`) and removed, bringing the table to `version`.
    case update(version: UInt64, upserts: [ExportedService], removals: [ServiceKey])
    /// Nothing changed; the table is at `version`. Sent every `heartbeatMillis`.
    case heartbeat(version: UInt64)

    /// A whole table, and how often its stream will show signs of life.
    public struct Snapshot: Equatable, Sendable {
        /// The publishing cluster (a subscriber checks it is the one it linked to).
        public let cluster: String
        /// The table's version.
        public let version: UInt64
        /// Interval between heartbeats, milliseconds: a subscriber that hears nothing for
        /// three of them treats the stream as lost.
        public let heartbeatMillis: Int
        /// Every exported service, sorted.
        public let services: [ExportedService]

        public init(cluster: String, version: UInt64, heartbeatMillis: Int, services: [ExportedService]) {
            self.cluster = cluster
            self.version = version
            self.heartbeatMillis = heartbeatMillis
            self.services = services
        }
    }

    /// The version the message brings the table to (or confirms).
    public var version: UInt64 {
        switch self {
        case .snapshot(let s): s.version
        case .update(let version, _, _): version
        case .heartbeat(let version): version
        }
    }
}
