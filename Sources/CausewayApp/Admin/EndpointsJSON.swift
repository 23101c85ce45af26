import CausewayMesh
import CausewayProxy

/// Renders `/endpoints`: every table (local services, mirrors kept by export streams,
/// mirrors from static files, clusterset services), each entry with its readiness and
/// where it comes from; then the links with their mirrors' state, and composition notes.
enum EndpointsJSON {
    static func render(_ table: ServiceTable, mesh: MeshStatus, ejected: [EjectedEndpoint] = []) -> String {
        let services: [JSONValue] = table.services.map { s in
            var fields: [(String, JSONValue)] = [
                ("service", .string(s.key.description)),
                ("table", .string(tableName(s))),
                ("sourceCluster", s.sourceCluster.map(JSONValue.string) ?? .null),
                ("ready", .bool(table.isReady(s.index))),
                ("totalEndpoints", .int(s.totalEndpoints)),
                ("readyEndpoints", .array(s.readyEndpoints.map { .string($0.description) })),
            ]
            if !s.ports.isEmpty { fields.append(("ports", .array(s.ports.map { .string($0.description) }))) }
            if s.exported { fields.append(("exported", .bool(true))) }
            if case .stream(let m) = s.mirrorSource {
                fields.append(("version", .int(Int(clamping: m.version))))
                fields.append(("exportedReadyEndpoints", .int(m.exportedReadyEndpoints)))
                fields.append(("stale", .bool(m.stale)))
            }
            if s.isClusterset {
                fields.append(("members", .array(s.members.map { m in
                    .object([
                        ("cluster", .string(m.cluster)),
                        ("service", .string(table.services[m.service].key.description)),
                        ("local", .bool(m.isLocal)),
                        ("tier", .int(mesh.tier(of: m, in: s.index))),
                        ("weight", .int(m.weight)),
                        ("ready", .bool(!table.services[m.service].readyEndpoints.isEmpty)),
                    ])
                })))
            }
            return .object(fields)
        }
        let links: [JSONValue] = mesh.links.map { l in
            .object([
                ("cluster", .string(l.cluster)),
                ("up", .bool(l.up)),
                ("gateways", .int(l.gateways)),
                ("gatewaysUp", .int(l.gatewaysUp)),
                ("stream", .string(l.stream)),
                ("lease", .string(l.lease)),
                ("version", l.version.map { .int(Int(clamping: $0)) } ?? .null),
                ("ageMillis", l.ageSeconds.map { .int(Int(($0 * 1000).rounded())) } ?? .null),
                ("resyncs", .int(l.resyncs)),
                ("services", .object(l.services.map { ($0.state, .int($0.count)) })),
            ])
        }
        return JSONValue.object([
            ("services", .array(services)),
            ("links", .array(links)),
            ("exports", .object([("version", .int(Int(clamping: mesh.exportsVersion))), ("services", .int(mesh.exportedServices))])),
            ("notes", .array(mesh.notes.map(JSONValue.string))),
            ("ejected", .array(ejected.sorted { ($0.service, $0.endpoint, $0.worker) < ($1.service, $1.endpoint, $1.worker) }.map { e in
                .object([
                    ("service", .string(e.service)), ("endpoint", .string(e.endpoint)), ("worker", .int(e.worker)),
                    ("ejections", .int(e.ejections)), ("remainingMillis", .int(e.remainingMillis)),
                ])
            })),
        ]).pretty().dropLastNewline
    }

    /// Which table an entry belongs to.
    static func tableName(_ s: ServiceEntry) -> String {
        if s.isClusterset { return "clusterset" }
        switch s.mirrorSource {
        case .none: return "local"
        case .file: return "mirrored-from-files"
        case .stream: return "mirrored-by-stream"
        }
    }
}

private extension String {
    var dropLastNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
