import CausewayMesh
import Yams

/// Reads and checks `spec.capture` of a `Proxy` into a `CaptureConfig`, reporting each
/// problem at its field like every other section.
enum CaptureSection {
    static let fields = ["mark", "excludePorts", "excludeCIDRs", "includeCIDRs", "excludeUIDs", "sniffTimeout", "passthroughIdleTimeout"]
    static let markRange = 1...Int(UInt32.max)
    static let portRange = 1...65_535
    /// uid_t; 2^32-1 is (uid_t)-1, "no user".
    static let uidRange = 0...Int(UInt32.max - 1)
    /// Long enough for a client's first bytes to arrive on a slow network, short enough that a
    /// server-speaks-first protocol does not notice the wait.
    static let sniffTimeoutRange = 10...30_000
    /// A second at least (the worker's sweep runs once a second), a week at most; `0s`: never.
    static let passthroughIdleTimeoutRange = 1_000...(168 * 3_600_000)

    /// - Parameter listeners: the valid listeners, to check that capture has a sidecar
    ///   listener to redirect to; nil when the listeners had problems (already reported).
    static func read(_ node: Node, _ path: FieldPath, listeners: [ListenerConfig]?, reader: NodeReader) -> CaptureConfig? {
        guard let fields = reader.fields(node, path, allowed: fields) else { return nil }
        var capture = CaptureConfig()
        capture.configured = true
        var ok = true
        if let node = fields["mark"] {
            if let v = reader.integer(node, fields.field("mark"), in: markRange) { capture.mark = UInt32(v) } else { ok = false }
        }
        if let node = fields["excludePorts"] {
            if let ports = uniqueIntegers(node, fields.field("excludePorts"), in: portRange, what: "port", reader: reader) {
                capture.excludePorts = ports.map { UInt16($0) }
            } else { ok = false }
        }
        if let node = fields["excludeUIDs"] {
            if let uids = uniqueIntegers(node, fields.field("excludeUIDs"), in: uidRange, what: "uid", reader: reader) {
                capture.excludeUIDs = uids.map { UInt32($0) }
            } else { ok = false }
        }
        for name in ["excludeCIDRs", "includeCIDRs"] {
            guard let node = fields[name] else { continue }
            guard let prefixes = prefixes(node, fields.field(name), reader: reader) else { ok = false; continue }
            if name == "excludeCIDRs" { capture.excludeCIDRs = prefixes } else { capture.includeCIDRs = prefixes }
        }
        if let node = fields["sniffTimeout"] {
            if let v = reader.durationNanos(node, fields.field("sniffTimeout"), in: sniffTimeoutRange) {
                capture.sniffTimeoutNanos = v
            } else { ok = false }
        }
        if let node = fields["passthroughIdleTimeout"] {
            if let v = reader.durationNanos(node, fields.field("passthroughIdleTimeout"), in: passthroughIdleTimeoutRange,
                                            zeroMeansNone: true) {
                capture.passthroughIdleTimeoutNanos = v
            } else { ok = false }
        }
        if let listeners, let problem = CaptureTarget.problem(listeners: listeners) {
            reader.report(at: node.mark, path, problem)
            ok = false
        }
        return ok ? capture : nil
    }

    /// A list of integers in `range`, each at most once.
    private static func uniqueIntegers(_ node: Node, _ path: FieldPath, in range: ClosedRange<Int>, what: String,
                                       reader: NodeReader) -> [Int]? {
        guard let items = reader.list(node, path) else { return nil }
        var values: [Int] = []
        var ok = true
        for (i, item) in items.enumerated() {
            guard let v = reader.integer(item, path.index(i), in: range) else { ok = false; continue }
            if let first = values.firstIndex(of: v) {
                reader.report(item, path.index(i), "\(what) \(v) is already listed at \(path.index(first))")
                ok = false
                continue
            }
            values.append(v)
        }
        return ok ? values : nil
    }

    /// A list of CIDRs, each at most once.
    private static func prefixes(_ node: Node, _ path: FieldPath, reader: NodeReader) -> [IPPrefix]? {
        guard let items = reader.list(node, path) else { return nil }
        var values: [IPPrefix] = []
        var ok = true
        for (i, item) in items.enumerated() {
            guard let text = reader.string(item, path.index(i)) else { ok = false; continue }
            do {
                let prefix = try IPPrefix(parsing: text)
                if let first = values.firstIndex(of: prefix) {
                    reader.report(item, path.index(i), "\(prefix) is already listed at \(path.index(first))")
                    ok = false
                    continue
                }
                values.append(prefix)
            } catch {
                reader.report(item, path.index(i), error.message)
                ok = false
            }
        }
        return ok ? values : nil
    }
}
