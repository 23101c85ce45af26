import CausewayMesh
import Yams

/// Merges EndpointSlices into one `ServiceEntry` per service and builds the `ServiceTable`.
///
/// Services are ordered by namespace, then name, so indexes are stable across reloads of the
/// same files. Within a service, an address counts once: it is ready if any slice lists it as
/// ready (a pod moving between slices during an update is briefly in both).
enum ServiceTableBuilder {
    static func build(slices: [EndpointSliceDocument.Slice], defaultNamespace: String, log: ProblemLog) -> ServiceTable {
        struct Merged {
            var sourceCluster: String?
            var firstSlice: EndpointSliceDocument.Slice
            var ready: Set<EndpointAddress> = []
            var all: Set<EndpointAddress> = []
        }
        var bySliceName: [String: EndpointSliceDocument.Slice] = [:]
        var services: [ServiceKey: Merged] = [:]

        for slice in slices {
            let sliceID = "\(slice.namespace)/\(slice.name)"
            if let first = bySliceName[sliceID] {
                log.report(file: slice.file, at: slice.nameMark, field: "metadata.name",
                           "EndpointSlice \(sliceID) is defined twice; the first is at \(location(first.file, first.nameMark))")
                continue
            }
            bySliceName[sliceID] = slice

            let key = ServiceKey(namespace: slice.namespace, name: slice.service)
            var merged = services[key] ?? Merged(sourceCluster: slice.sourceCluster, firstSlice: slice)
            if merged.sourceCluster != slice.sourceCluster {
                let first = merged.firstSlice
                log.report(
                    file: slice.file, at: slice.labelsMark,
                    field: "metadata.labels[\"\(EndpointSliceDocument.sourceClusterLabel)\"]",
                    "service \(key) has source cluster \(describe(slice.sourceCluster)) here but "
                        + "\(describe(merged.sourceCluster)) in EndpointSlice \(first.namespace)/\(first.name) "
                        + "at \(location(first.file, first.labelsMark)); all slices of a service must agree")
                continue
            }
            for endpoint in slice.endpoints {
                merged.all.insert(endpoint.address)
                if endpoint.ready { merged.ready.insert(endpoint.address) }
            }
            services[key] = merged
        }

        let ordered = services.sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
        let entries = ordered.enumerated().map { index, service in
            let (key, merged) = service
            return ServiceEntry(
                key: key, index: index, readyEndpoints: Array(merged.ready), totalEndpoints: merged.all.count,
                sourceCluster: merged.sourceCluster)
        }
        return ServiceTable(services: entries, defaultNamespace: defaultNamespace)
    }

    private static func describe(_ cluster: String?) -> String {
        cluster.map { "\"\($0)\"" } ?? "none (local)"
    }

    private static func location(_ file: String, _ mark: Mark?) -> String {
        guard let mark else { return file }
        return "\(file):\(mark)"
    }
}
