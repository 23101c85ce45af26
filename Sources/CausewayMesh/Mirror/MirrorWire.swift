/// Encodes and decodes export stream messages: one compact JSON object per line.
///
/// ```
/// {"type":"snapshot","cluster":"cluster2","version":3,"heartbeatMillis":5000,"services":[{"namespace":"production","name":"webapp","ports":[{"name":"http","port":8080,"appProtocol":"kubernetes.io/h2c"}],"readyEndpoints":3}]}
/// {"type":"update","version":4,"upsert":[...],"remove":[{"namespace":"production","name":"old"}]}
/// {"type":"heartbeat","version":4}
/// ```
///
/// Decoding is strict, because the bytes come from another cluster: unknown message types,
/// missing or mistyped fields, names that are not DNS labels, out-of-range numbers and
/// oversized lists are errors (the subscriber drops the stream and resynchronises); unknown
/// *fields* are ignored so a newer gateway can add some.
public enum MirrorWire {
    /// Bounds on one message, so a hostile peer cannot make a subscriber build huge tables.
    public static let maxServices = 10_000
    public static let maxPortsPerService = 100
    public static let maxReadyEndpoints = 1_000_000
    /// Heartbeat intervals a subscriber accepts: 100 ms ... 1 h.
    public static let heartbeatRange = 100...3_600_000
    /// Where a gateway serves its export stream (`GET`, on its mTLS listener).
    public static let path = "/causeway.dev/v1/exports"
    /// The stream's media type: newline-delimited JSON.
    public static let contentType = "application/x-ndjson"

    /// A line that is not a valid message.
    public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Encoding

    /// The message as one line of JSON, with its terminating newline.
    public static func encode(_ message: MirrorMessage) -> String {
        var out = ""
        switch message {
        case .snapshot(let s):
            out += "{\"type\":\"snapshot\",\"cluster\":\(JSONNode.quoted(s.cluster)),\"version\":\(s.version),"
            out += "\"heartbeatMillis\":\(s.heartbeatMillis),\"services\":["
            appendServices(s.services, to: &out)
            out += "]}"
        case .update(let version, let upserts, let removals):
            out += "{\"type\":\"update\",\"version\":\(version),\"upsert\":["
            appendServices(upserts, to: &out)
            out += "],\"remove\":["
            for (i, key) in removals.enumerated() {
                if i > 0 { out += "," }
                out += "{\"namespace\":\(JSONNode.quoted(key.namespace)),\"name\":\(JSONNode.quoted(key.name))}"
            }
            out += "]}"
        case .heartbeat(let version):
            out += "{\"type\":\"heartbeat\",\"version\":\(version)}"
        }
        return out + "\n"
    }

    private static func appendServices(_ services: [ExportedService], to out: inout String) {
        for (i, s) in services.enumerated() {
            if i > 0 { out += "," }
            out += "{\"namespace\":\(JSONNode.quoted(s.key.namespace)),\"name\":\(JSONNode.quoted(s.key.name)),\"ports\":["
            for (j, p) in s.ports.enumerated() {
                if j > 0 { out += "," }
                out += "{"
                if let name = p.name { out += "\"name\":\(JSONNode.quoted(name))," }
                out += "\"port\":\(p.port)"
                if let proto = p.appProtocol { out += ",\"appProtocol\":\(JSONNode.quoted(proto))" }
                out += "}"
            }
            out += "],\"readyEndpoints\":\(s.readyEndpoints)}"
        }
    }

    // MARK: Decoding

    /// Decodes one line (without its newline).
    public static func decode(_ line: UnsafeRawBufferPointer) throws(DecodeError) -> MirrorMessage {
        let node: JSONNode
        do {
            node = try JSONNode.parse(line)
        } catch {
            throw DecodeError("not JSON: \(error)")
        }
        guard node.objectValue != nil else { throw DecodeError("a message is a JSON object") }
        guard let type = node["type"]?.stringValue else { throw DecodeError("missing \"type\"") }
        let version = try positive(node, "version")
        switch type {
        case "snapshot":
            guard let cluster = node["cluster"]?.stringValue, DNSLabel.isValid(cluster) else {
                throw DecodeError("snapshot: \"cluster\" must be a DNS label")
            }
            guard let heartbeat = node["heartbeatMillis"]?.intValue, heartbeatRange.contains(Int(clamping: heartbeat)) else {
                throw DecodeError("snapshot: \"heartbeatMillis\" must be an integer in \(heartbeatRange)")
            }
            let services = try serviceList(node["services"], field: "services")
            return .snapshot(.init(cluster: cluster, version: version, heartbeatMillis: Int(heartbeat), services: services))
        case "update":
            let upserts = try serviceList(node["upsert"], field: "upsert")
            guard let removeList = node["remove"]?.arrayValue, removeList.count <= maxServices else {
                throw DecodeError("update: \"remove\" must be an array of at most \(maxServices) services")
            }
            var removals: [ServiceKey] = []
            removals.reserveCapacity(removeList.count)
            for item in removeList { removals.append(try key(item, field: "remove")) }
            return .update(version: version, upserts: upserts, removals: removals)
        case "heartbeat":
            return .heartbeat(version: version)
        default:
            throw DecodeError("unknown message type \(JSONNode.quoted(type))")
        }
    }

    private static func positive(_ node: JSONNode, _ field: String) throws(DecodeError) -> UInt64 {
        guard let value = node[field]?.intValue, value >= 1 else {
            throw DecodeError("\"\(field)\" must be a positive integer")
        }
        return UInt64(value)
    }

    private static func key(_ node: JSONNode, field: String) throws(DecodeError) -> ServiceKey {
        guard let namespace = node["namespace"]?.stringValue, DNSLabel.isValid(namespace),
              let name = node["name"]?.stringValue, DNSLabel.isValid(name)
        else { throw DecodeError("\(field): \"namespace\" and \"name\" must be DNS labels") }
        return ServiceKey(namespace: namespace, name: name)
    }

    private static func serviceList(_ node: JSONNode?, field: String) throws(DecodeError) -> [ExportedService] {
        guard let items = node?.arrayValue, items.count <= maxServices else {
            throw DecodeError("\"\(field)\" must be an array of at most \(maxServices) services")
        }
        var services: [ExportedService] = []
        services.reserveCapacity(items.count)
        var seen = Set<ServiceKey>()
        for item in items {
            let key = try key(item, field: field)
            guard seen.insert(key).inserted else { throw DecodeError("\(field): \(key) appears twice") }
            guard let ready = item["readyEndpoints"]?.intValue, ready >= 0, ready <= maxReadyEndpoints else {
                throw DecodeError("\(field): \(key): \"readyEndpoints\" must be an integer in 0...\(maxReadyEndpoints)")
            }
            guard let portList = item["ports"]?.arrayValue, portList.count <= maxPortsPerService else {
                throw DecodeError("\(field): \(key): \"ports\" must be an array of at most \(maxPortsPerService)")
            }
            var ports: [ServicePort] = []
            for p in portList {
                guard let number = p["port"]?.intValue, (1...65_535).contains(number) else {
                    throw DecodeError("\(field): \(key): a port needs \"port\" in 1...65535")
                }
                let name = p["name"]?.stringValue
                let proto = p["appProtocol"]?.stringValue
                if let name, name.isEmpty || name.utf8.count > 253 { throw DecodeError("\(field): \(key): a port name must be 1 to 253 bytes") }
                if let proto, proto.isEmpty || proto.utf8.count > 253 {
                    throw DecodeError("\(field): \(key): appProtocol must be 1 to 253 bytes")
                }
                ports.append(ServicePort(name: name, port: UInt16(number), appProtocol: proto))
            }
            services.append(ExportedService(key: key, ports: ports, readyEndpoints: Int(ready)))
        }
        return services
    }
}

/// RFC 1123 DNS labels, as Kubernetes names Services and namespaces.
public enum DNSLabel {
    /// 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }
}
