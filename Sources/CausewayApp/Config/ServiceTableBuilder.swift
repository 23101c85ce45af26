import CausewayMesh
import CausewayTLS
import Yams

/// Merges EndpointSlices into one `ServiceEntry` per service, marks exported services, checks
/// mirrored services against the Links, and builds the `ServiceTable`.
///
/// Services are ordered by namespace, then name, so indexes are stable across reloads of the
/// same files. Within a service, an address counts once: it is ready if any slice lists it as
/// ready (a pod moving between slices during an update is briefly in both).
///
/// A `ServiceExport` of a Service that has no slice still adds the service, with no endpoints:
/// the gateway then admits requests for it and answers that no endpoint is healthy, rather
/// than calling a Service that exists unknown.
///
/// Mirror checks (the source cluster is linked, the name ends in `-<cluster>`, the identity
/// annotation is in the trust domain) are made once per service, at its first slice.
enum ServiceTableBuilder {
    private struct Merged {
        var sourceCluster: String?
        var gatewayIdentity: SPIFFEID?
        /// Nil for a service only a ServiceExport names.
        var firstSlice: EndpointSliceDocument.Slice?
        var remoteName: ServiceKey?
        var expectedIdentity: String?
        var exported = false
        var ready: Set<EndpointAddress> = []
        var all: Set<EndpointAddress> = []
        var ports: Set<ServicePort> = []
    }

    private static let labelsPath = FieldPath.root.key("metadata").key("labels")
    private static let identityPath = FieldPath.root.key("metadata").key("annotations").key(EndpointSliceDocument.gatewayIdentityAnnotation)

    /// - Parameters:
    ///   - links: every Link whose cluster could be read, by cluster.
    ///   - proxy: the Proxy's facts; nil when there is not exactly one readable Proxy (the
    ///     checks against its cluster and trust domain are then skipped).
    /// - Returns: the table, and the keys of the exported services.
    static func build(
        slices: [EndpointSliceDocument.Slice], exports: [ServiceExportDocument.Export], links: LinkChecks.Index,
        proxy: ProxyDocument.Facts?, defaultNamespace: String, log: ProblemLog
    ) -> (table: ServiceTable, exports: Set<ServiceKey>) {
        var bySliceName: [String: EndpointSliceDocument.Slice] = [:]
        var services: [ServiceKey: Merged] = [:]

        for slice in slices {
            let sliceID = "\(slice.namespace)/\(slice.name)"
            if let first = bySliceName[sliceID] {
                log.report(file: slice.file, at: slice.nameMark, field: "metadata.name",
                           "EndpointSlice \(sliceID) is defined twice; the first is at \(problemLocation(first.file, first.nameMark))")
                continue
            }
            bySliceName[sliceID] = slice

            let key = ServiceKey(namespace: slice.namespace, name: slice.service)
            var merged: Merged
            if let existing = services[key], let first = existing.firstSlice {
                merged = existing
                guard agrees(slice, with: first, merged: merged, key: key, log: log) else { continue }
            } else {
                merged = Merged(sourceCluster: slice.sourceCluster, gatewayIdentity: slice.gatewayIdentity, firstSlice: slice)
                if let source = slice.sourceCluster {
                    (merged.remoteName, merged.expectedIdentity) = checkMirror(
                        slice, key: key, sourceCluster: source, links: links, proxy: proxy, log: log)
                }
            }
            merged.ports.formUnion(slice.ports)
            for endpoint in slice.endpoints {
                merged.all.insert(endpoint.address)
                if endpoint.ready { merged.ready.insert(endpoint.address) }
            }
            services[key] = merged
        }

        var exported: [ServiceKey: ServiceExportDocument.Export] = [:]
        for export in exports {
            let key = export.key
            if let first = exported[key] {
                log.report(file: export.file, at: export.nameMark, field: "metadata.name",
                           "ServiceExport \(key.namespace)/\(key.name) is defined twice; the first is at \(problemLocation(first.file, first.nameMark))")
                continue
            }
            exported[key] = export
            if let merged = services[key], let source = merged.sourceCluster, let first = merged.firstSlice {
                log.report(file: export.file, at: export.nameMark, field: "metadata.name",
                           "\(key) is mirrored from \(source) (EndpointSlice \(first.namespace)/\(first.name) at "
                               + "\(problemLocation(first.file, first.nameMark))); only local services can be exported")
                continue
            }
            services[key, default: Merged()].exported = true
        }

        let ordered = services.sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
        let entries = ordered.enumerated().map { index, service in
            let (key, merged) = service
            return ServiceEntry(
                key: key, index: index, readyEndpoints: Array(merged.ready), totalEndpoints: merged.all.count,
                sourceCluster: merged.sourceCluster, remoteName: merged.remoteName, expectedIdentity: merged.expectedIdentity,
                exported: merged.exported, ports: Array(merged.ports))
        }
        let table = ServiceTable(services: entries, defaultNamespace: defaultNamespace)
        return (table, Set(entries.filter(\.exported).map(\.key)))
    }

    /// Checks that a further slice of a service agrees with its first on what makes the
    /// service local or mirrored; reports and returns false when not.
    private static func agrees(
        _ slice: EndpointSliceDocument.Slice, with first: EndpointSliceDocument.Slice, merged: Merged, key: ServiceKey, log: ProblemLog
    ) -> Bool {
        if merged.sourceCluster != slice.sourceCluster {
            log.report(
                file: slice.file, at: slice.labelsMark, field: labelsPath.key(EndpointSliceDocument.sourceClusterLabel).description,
                "service \(key) has source cluster \(describe(slice.sourceCluster)) here but "
                    + "\(describe(merged.sourceCluster)) in EndpointSlice \(first.namespace)/\(first.name) "
                    + "at \(problemLocation(first.file, first.labelsMark)); all slices of a service must agree")
            return false
        }
        if merged.gatewayIdentity != slice.gatewayIdentity {
            log.report(
                file: slice.file, at: slice.gatewayIdentityMark ?? slice.nameMark, field: identityPath.description,
                "service \(key) has gateway identity \(describe(slice.gatewayIdentity)) here but "
                    + "\(describe(merged.gatewayIdentity)) in EndpointSlice \(first.namespace)/\(first.name) "
                    + "at \(problemLocation(first.file, first.gatewayIdentityMark ?? first.nameMark)); all slices of a service must agree")
            return false
        }
        return true
    }

    /// The checks on a mirrored service, at its first slice. Returns its remote name and the
    /// identity its gateway must present; either is nil when a problem was reported.
    private static func checkMirror(
        _ slice: EndpointSliceDocument.Slice, key: ServiceKey, sourceCluster: String, links: LinkChecks.Index,
        proxy: ProxyDocument.Facts?, log: ProblemLog
    ) -> (remoteName: ServiceKey?, expectedIdentity: String?) {
        let sourcePath = labelsPath.key(EndpointSliceDocument.sourceClusterLabel).description
        let link = links[sourceCluster]
        if let own = proxy?.cluster, own == sourceCluster {
            log.report(file: slice.file, at: slice.sourceClusterMark, field: sourcePath,
                       "\"\(sourceCluster)\" is this proxy's own cluster; a mirrored slice comes from a linked cluster")
        } else if link == nil {
            let known = links.keys.sorted()
            let linked = known.isEmpty ? "there are no Links" : "linked: \(known.joined(separator: ", "))"
            log.report(file: slice.file, at: slice.sourceClusterMark, field: sourcePath,
                       "no Link for cluster \"\(sourceCluster)\"; a mirrored slice's source cluster must be the cluster of a Link (\(linked))")
        }

        var remoteName: ServiceKey?
        let suffix = "-" + sourceCluster
        let name = key.name
        if !name.hasSuffix(suffix) {
            log.report(file: slice.file, at: slice.serviceMark,
                       field: labelsPath.key(EndpointSliceDocument.serviceNameLabel).description,
                       "\"\(name)\" does not end with \"\(suffix)\": a service mirrored from \(sourceCluster) is named "
                           + "after its name there, plus \"\(suffix)\" (webapp\(suffix) mirrors webapp)")
        } else {
            let base = String(name.dropLast(suffix.count))
            if NameRules.isServiceName(base) {
                remoteName = ServiceKey(namespace: key.namespace, name: base)
            } else {
                log.report(file: slice.file, at: slice.serviceMark,
                           field: labelsPath.key(EndpointSliceDocument.serviceNameLabel).description,
                           "\"\(name)\" without its \"\(suffix)\" suffix is \"\(base)\", which is not a Service name; "
                               + "the name in \(sourceCluster) \(NameRules.serviceNameRule)")
            }
        }

        var identity: SPIFFEID? = link?.identity
        if let annotated = slice.gatewayIdentity {
            identity = annotated
            if let trustDomain = proxy?.trustDomain, annotated.trustDomain.name != trustDomain {
                log.report(file: slice.file, at: slice.gatewayIdentityMark, field: identityPath.description,
                           LinkChecks.trustDomainMismatch(annotated, trustDomain: trustDomain, isDefault: proxy?.trustDomainIsDefault ?? false))
                identity = nil
            }
        }
        return (remoteName, identity?.description)
    }

    private static func describe(_ cluster: String?) -> String {
        cluster.map { "\"\($0)\"" } ?? "none (local)"
    }

    private static func describe(_ identity: SPIFFEID?) -> String {
        identity.map { "\"\($0)\"" } ?? "none (the Link's)"
    }
}
