import CausewayHTTP
import CausewayLoop
import CausewayMesh

/// publish: serves this gateway's export stream (`GET /causeway.dev/v1/exports` on the
/// gateway listener, so only mTLS peers of the trust domain reach it) to linked clusters.
///
/// Each subscriber gets a snapshot of the table in the worker's routing snapshot, then an
/// update each time a new snapshot carries a new table version, and a heartbeat every
/// `MirrorSettings.heartbeatNanos`. Lines are encoded once per change and sent to every
/// feed. A subscriber that does not read (more than `maxBufferedBytes` unsent) is reset:
/// it resynchronises from a fresh snapshot when it reconnects, so nothing is lost.
///
/// Loop-bound, owned by its `Worker`.
final class ExportPublisher {
    /// Unsent bytes one feed may hold before it is reset.
    static let maxBufferedBytes = 1 << 20

    private struct Feed {
        let stream: ProxyStream
        let connection: DownstreamConnection
        let body: H2OutboundBody
    }

    unowned(unsafe) let worker: Worker
    private var feeds: [Feed] = []
    /// The table the feeds were last brought to.
    private var published: ExportTable
    private var lastSent: UInt64 = 0
    /// The heartbeat timer, armed while there are feeds.
    private var heartbeat: TimerID?

    init(worker: Worker, table: ExportTable) {
        self.worker = worker
        self.published = table
    }

    /// True when `headers` ask for the export stream (a GET of `MirrorWire.path`).
    static func isExportRequest(_ headers: HeaderBlock) -> Bool {
        let (method, path, _) = headers.firstIndices(of: ":method", ":path", ":path")
        guard let method, let path else { return false }
        let isGet = headers.withValue(at: method) { $0.elementsEqual("GET".utf8) }
        return isGet && headers.withValue(at: path) { $0.elementsEqual(MirrorWire.path.utf8) }
    }

    /// Starts a feed on `stream`: response headers and the snapshot.
    func attach(_ stream: ProxyStream, on connection: DownstreamConnection) {
        var head = HeaderBlock()
        head.append(name: ":status", value: "200")
        head.append(name: "content-type", value: MirrorWire.contentType)
        head.append(name: "cache-control", value: "no-store")
        stream.longLived = true
        connection.respond(stream, headers: head, endStream: false, status: 200)
        guard let body = stream.responseBody else { return }
        let feed = Feed(stream: stream, connection: connection, body: body)
        let snapshot = MirrorMessage.snapshot(.init(
            cluster: worker.settings.cluster, version: published.version,
            heartbeatMillis: Int(worker.settings.mirror.heartbeatNanos / 1_000_000), services: published.services))
        worker.metrics.increment(.exportFeedsTotal)
        if send(MirrorWire.encode(snapshot), to: feed) { replaceFeeds(feeds + [feed]) }
        armHeartbeat()
    }

    /// A new routing snapshot: feeds get what changed in its export table, if anything.
    func install(_ table: ExportTable) {
        guard table.version != published.version else { return }
        let (upserts, removals) = table.changes(since: published)
        let line = MirrorWire.encode(.update(version: table.version, upserts: upserts, removals: removals))
        published = table
        broadcast(line)
    }

    /// The worker's sweep: drops finished feeds.
    func sweep(now: UInt64) {
        prune()
    }

    /// A heartbeat every `heartbeatNanos` while there are feeds (its own timer: the sweep's
    /// second is too coarse for the intervals subscribers may be told).
    private func armHeartbeat() {
        guard heartbeat == nil, !feeds.isEmpty else { return }
        heartbeat = worker.loop.schedule(after: worker.settings.mirror.heartbeatNanos) { [self] in
            heartbeat = nil
            prune()
            guard !feeds.isEmpty else { return }
            if worker.loop.now &- lastSent >= worker.settings.mirror.heartbeatNanos / 2 {
                broadcast(MirrorWire.encode(.heartbeat(version: published.version)))
            }
            armHeartbeat()
        }
    }

    /// Ends the feeds on `connection` (it is draining: they would hold it open until its
    /// hard close).
    func finishFeeds(on connection: DownstreamConnection) {
        for feed in feeds where feed.connection === connection && feed.stream.state == .responding {
            feed.stream.state = .done
            connection.finishResponse(feed.body, trailers: nil)
        }
        prune()
    }

    /// Ends every feed cleanly (drain): a subscriber sees the stream end and reconnects,
    /// to another gateway address if the link has one, and a draining connection is not
    /// held open by streams that never finish.
    func finishAll() {
        for feed in feeds where feed.stream.state == .responding && !feed.connection.isClosed {
            feed.stream.state = .done
            feed.connection.finishResponse(feed.body, trailers: nil)
        }
        replaceFeeds([])
    }

    private func broadcast(_ line: String) {
        lastSent = worker.loop.now
        replaceFeeds(feeds.filter { send(line, to: $0) })
    }

    /// Queues `line` on a feed; false (and the feed is reset) when its client is not reading.
    private func send(_ line: String, to feed: Feed) -> Bool {
        guard feed.stream.state == .responding, !feed.connection.isClosed else { return false }
        guard feed.body.bufferedBytes + line.utf8.count <= Self.maxBufferedBytes else {
            worker.log("export stream subscriber is not reading; its stream is reset (it resynchronises on reconnect)",
                       limitedBy: "export-feed-slow")
            feed.connection.reset(feed.stream, errorCode: H2ErrorCode.cancel)
            return false
        }
        var text = line
        text.withUTF8 { feed.connection.sendLocalBody(UnsafeRawBufferPointer($0), on: feed.body) }
        return true
    }

    private func prune() {
        replaceFeeds(feeds.filter { $0.stream.state == .responding && !$0.connection.isClosed })
    }

    /// Sets the feed list, keeping the active-feeds gauge equal to its length.
    private func replaceFeeds(_ next: [Feed]) {
        if next.count != feeds.count { worker.metrics.increment(.exportFeedsActive, by: Int64(next.count - feeds.count)) }
        feeds = next
    }
}
