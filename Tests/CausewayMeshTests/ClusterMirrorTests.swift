import Testing
import CausewayMesh

private func service(_ name: String, ready: Int, port: UInt16 = 8080) -> ExportedService {
    ExportedService(key: ServiceKey(namespace: "production", name: name),
                    ports: [ServicePort(name: "http", port: port, appProtocol: "kubernetes.io/h2c")], readyEndpoints: ready)
}

private func snapshot(_ version: UInt64, _ services: [ExportedService], cluster: String = "cluster2") -> MirrorMessage {
    .snapshot(.init(cluster: cluster, version: version, heartbeatMillis: 1_000, services: services))
}

private let second: UInt64 = 1_000_000_000

@Suite("ClusterMirror")
struct ClusterMirrorTests {
    @Test("a snapshot replaces everything; unchanged services keep the version they changed at")
    func snapshotReplaces() {
        var m = ClusterMirror(cluster: "cluster2")
        #expect(m.apply(snapshot(3, [service("a", ready: 1), service("b", ready: 2)]), now: 0) == .applied(changed: true))
        #expect(m.apply(snapshot(7, [service("a", ready: 1), service("c", ready: 1)]), now: 1) == .applied(changed: true))
        #expect(m.sortedEntries.map(\.service.key.name) == ["a", "c"])
        #expect(m.entries[ServiceKey(namespace: "production", name: "a")]?.changedAt == 3)
        #expect(m.entries[ServiceKey(namespace: "production", name: "c")]?.changedAt == 7)
        #expect(m.version == 7)
        #expect(m.resyncs == 1)
        #expect(m.apply(snapshot(8, [service("a", ready: 1), service("c", ready: 1)]), now: 2) == .applied(changed: false))
    }

    @Test("a snapshot from another cluster is refused")
    func wrongCluster() {
        var m = ClusterMirror(cluster: "cluster2")
        guard case .rejected = m.apply(snapshot(1, [service("a", ready: 1)], cluster: "cluster3"), now: 0) else {
            Issue.record("accepted another cluster's snapshot")
            return
        }
        #expect(m.entries.isEmpty)
        #expect(m.stream == .neverSynced)
    }

    @Test("updates apply whole: upserts and removals at a greater version")
    func updates() {
        var m = ClusterMirror(cluster: "cluster2")
        _ = m.apply(snapshot(1, [service("a", ready: 1), service("b", ready: 1)]), now: 0)
        let key = ServiceKey(namespace: "production", name: "b")
        #expect(m.apply(.update(version: 2, upserts: [service("a", ready: 0), service("z", ready: 4)], removals: [key]), now: 1)
            == .applied(changed: true))
        #expect(m.sortedEntries.map { "\($0.service.key.name)=\($0.service.readyEndpoints)@\($0.changedAt)" } == ["a=0@2", "z=4@2"])
        #expect(m.lastHeard == 1)
    }

    @Test("an update that does not follow changes nothing", arguments: [
        "before any snapshot", "version not greater", "removes an unknown service", "changes and removes one service",
    ])
    func rejectedUpdates(kind: String) {
        var m = ClusterMirror(cluster: "cluster2")
        if kind != "before any snapshot" { _ = m.apply(snapshot(5, [service("a", ready: 1)]), now: 0) }
        let before = m.entries
        let a = ServiceKey(namespace: "production", name: "a")
        let message: MirrorMessage = switch kind {
        case "version not greater": .update(version: 5, upserts: [service("b", ready: 1)], removals: [])
        case "removes an unknown service": .update(version: 6, upserts: [service("b", ready: 1)], removals: [ServiceKey(namespace: "production", name: "x")])
        case "changes and removes one service": .update(version: 6, upserts: [service("a", ready: 2)], removals: [a])
        default: .update(version: 6, upserts: [service("b", ready: 1)], removals: [])
        }
        guard case .rejected = m.apply(message, now: 1) else {
            Issue.record("\(kind): applied")
            return
        }
        #expect(m.entries == before, "half-applied: \(kind)")
        #expect(m.version == (kind == "before any snapshot" ? nil : 5))
    }

    @Test("a heartbeat must match the mirror's version")
    func heartbeats() {
        var m = ClusterMirror(cluster: "cluster2")
        guard case .rejected = m.apply(.heartbeat(version: 1), now: 0) else { Issue.record("heartbeat before snapshot"); return }
        _ = m.apply(snapshot(4, []), now: 0)
        #expect(m.apply(.heartbeat(version: 4), now: 9) == .applied(changed: false))
        #expect(m.lastHeard == 9)
        guard case .rejected = m.apply(.heartbeat(version: 5), now: 10) else { Issue.record("missed update not noticed"); return }
    }

    @Test("a lost stream's entries turn stale, then expire, at the lease times; a snapshot revives them")
    func lease() {
        let policy = ClusterMirror.LeasePolicy(staleAfterNanos: 30 * second, removeAfterNanos: 300 * second)
        var m = ClusterMirror(cluster: "cluster2")
        #expect(m.lease(now: 0, policy: policy) == .fresh)
        _ = m.apply(snapshot(1, [service("a", ready: 1)]), now: 0)
        #expect(m.nextLeaseChange(after: 0, policy: policy) == nil)
        m.streamLost(now: 100 * second)
        #expect(m.lease(now: 129 * second, policy: policy) == .fresh)
        #expect(m.nextLeaseChange(after: 129 * second, policy: policy) == 130 * second)
        #expect(m.lease(now: 130 * second, policy: policy) == .stale)
        #expect(m.nextLeaseChange(after: 130 * second, policy: policy) == 400 * second)
        #expect(m.lease(now: 399 * second, policy: policy) == .stale)
        #expect(m.lease(now: 400 * second, policy: policy) == .expired)
        #expect(m.nextLeaseChange(after: 400 * second, policy: policy) == nil)
        // Losing it again does not restart the clock.
        m.streamLost(now: 399 * second)
        #expect(m.lease(now: 400 * second, policy: policy) == .expired)
        _ = m.apply(snapshot(2, [service("a", ready: 1)]), now: 401 * second)
        #expect(m.lease(now: 402 * second, policy: policy) == .fresh)
        #expect(m.stream == .live(since: 401 * second))
    }
}

@Suite("ExportTable")
struct ExportTableTests {
    @Test("the version moves only when the services change")
    func versions() {
        let t1 = ExportTable(services: [service("b", ready: 1), service("a", ready: 2)], version: 1)
        #expect(t1.services.map(\.key.name) == ["a", "b"])
        #expect(t1.next([service("a", ready: 2), service("b", ready: 1)]).version == 1)
        let t2 = t1.next([service("a", ready: 3), service("c", ready: 1)])
        #expect(t2.version == 2)
        let (upserts, removals) = t2.changes(since: t1)
        #expect(upserts.map { "\($0.key.name)=\($0.readyEndpoints)" } == ["a=3", "c=1"])
        #expect(removals == [ServiceKey(namespace: "production", name: "b")])
    }
}

@Suite("MirrorWire")
struct MirrorWireTests {
    private func decode(_ line: String) throws -> MirrorMessage {
        var line = line
        return try line.withUTF8 { try MirrorWire.decode(UnsafeRawBufferPointer($0)) }
    }

    @Test("every message survives encode then decode")
    func roundTrip() throws {
        let messages: [MirrorMessage] = [
            snapshot(1, [service("webapp", ready: 3), ExportedService(key: ServiceKey(namespace: "n", name: "bare"), ports: [], readyEndpoints: 0)]),
            .update(version: 2, upserts: [service("api", ready: 1, port: 9090)], removals: [ServiceKey(namespace: "production", name: "webapp")]),
            .heartbeat(version: 2),
        ]
        for message in messages {
            let line = MirrorWire.encode(message)
            #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil)
            #expect(try decode(String(line.dropLast())) == message)
        }
    }

    @Test("malformed or hostile lines are refused", arguments: [
        "", "[]", "{}", #"{"type":"nope","version":1}"#, #"{"type":"heartbeat","version":0}"#, #"{"type":"heartbeat","version":-1}"#,
        #"{"type":"heartbeat","version":"1"}"#,
        #"{"type":"snapshot","cluster":"Cluster2","version":1,"heartbeatMillis":1000,"services":[]}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":5,"services":[]}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":1000}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":1000,"services":[{"namespace":"p","name":"a","ports":[],"readyEndpoints":-1}]}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":1000,"services":[{"namespace":"p","name":"a","ports":[{"port":0}],"readyEndpoints":1}]}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":1000,"services":[{"namespace":"p","name":"a.b","ports":[],"readyEndpoints":1}]}"#,
        #"{"type":"snapshot","cluster":"c","version":1,"heartbeatMillis":1000,"services":[{"namespace":"p","name":"a","ports":[],"readyEndpoints":1},{"namespace":"p","name":"a","ports":[],"readyEndpoints":2}]}"#,
        #"{"type":"update","version":2,"upsert":[]}"#,
        #"{"type":"update","version":2,"upsert":[],"remove":[{"namespace":"p"}]}"#,
    ])
    func refused(line: String) {
        #expect(throws: MirrorWire.DecodeError.self) { try decode(line) }
    }

    @Test("unknown fields are ignored, so a newer gateway can add some")
    func unknownFields() throws {
        #expect(try decode(#"{"type":"heartbeat","version":3,"future":{"x":[1,2]}}"#) == .heartbeat(version: 3))
    }
}

@Suite("LineSplitter")
struct LineSplitterTests {
    private func feed(_ splitter: inout LineSplitter, _ text: String) throws -> [String] {
        var lines: [String] = []
        var text = text
        try text.withUTF8 { try splitter.feed(UnsafeRawBufferPointer($0)) { lines.append(String(decoding: $0, as: UTF8.self)) } }
        return lines
    }

    @Test("lines split across reads are joined; CRLF and empty lines are handled")
    func splits() throws {
        var s = LineSplitter(maxLineBytes: 16)
        #expect(try feed(&s, "ab") == [])
        #expect(try feed(&s, "c\nde\r\n\nf") == ["abc", "de"])
        #expect(s.pendingBytes == 1)
        #expect(try feed(&s, "g\n") == ["fg"])
    }

    @Test("a line over the bound is an error, whole or in pieces")
    func bounded() throws {
        var whole = LineSplitter(maxLineBytes: 4)
        #expect(throws: LineSplitter.LineTooLong.self) { try feed(&whole, "12345\n") }
        var pieces = LineSplitter(maxLineBytes: 4)
        _ = try feed(&pieces, "123")
        #expect(throws: LineSplitter.LineTooLong.self) { try feed(&pieces, "456") }
        var exact = LineSplitter(maxLineBytes: 4)
        #expect(try feed(&exact, "1234\n") == ["1234"])
    }
}
