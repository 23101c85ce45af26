import CausewayMesh
import Yams

/// Validates a `ServiceExport` (`multicluster.x-k8s.io/v1alpha1`, Kubernetes Multi-Cluster
/// Services): its name and namespace name a local Service that this proxy's gateway serves to
/// other clusters.
///
/// Strict on purpose: only `metadata` and an empty `spec` are accepted. `status` (which the
/// MCS controller writes) is refused like any unknown field, so a copied object that carries
/// conditions is noticed rather than half-read. Whether the named Service is local, and
/// exported once, is checked by `ServiceTableBuilder` with every slice in view.
enum ServiceExportDocument {
    struct Export {
        /// The exported Service: `metadata.name` in `metadata.namespace`.
        let key: ServiceKey
        /// Where it was defined, for problems about the export as a whole.
        let file: String
        let nameMark: Mark?
    }

    /// Reads one ServiceExport, reporting its problems; nil when it has any.
    static func read(_ root: Node, reader: NodeReader) -> Export? {
        let problemsBefore = reader.log.count
        guard let top = reader.fields(root, .root, allowed: ["apiVersion", "kind", "metadata", "spec"], required: ["metadata"]) else {
            return nil
        }
        // The export is named after the Service, so its name follows the Service name rule.
        let metadata = top["metadata"].flatMap {
            ObjectMetadata.read($0, top.field("metadata"), reader: reader, nameValid: NameRules.isServiceName, nameRule: NameRules.serviceNameRule)
        }
        if let spec = top["spec"] {
            // MCS v1alpha1 defines no spec fields; `spec: {}` is what tools write.
            _ = reader.fields(spec, top.field("spec"), allowed: [])
        }
        guard reader.log.count == problemsBefore, let metadata, let name = metadata.name, let namespace = metadata.namespace else {
            return nil
        }
        return Export(key: ServiceKey(namespace: namespace, name: name), file: reader.file, nameMark: metadata.nameMark)
    }
}
