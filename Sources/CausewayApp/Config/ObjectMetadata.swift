import Yams

/// The `metadata` of a Kubernetes-style resource other than the Proxy: a required name, an
/// optional namespace, labels and annotations, and the server-set fields `kubectl get -o yaml`
/// prints, which are skipped so such output loads unchanged.
struct ObjectMetadata {
    /// ObjectMeta fields that mean nothing here.
    static let ignoredFields: Set<String> = [
        "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "generateName", "ownerReferences", "finalizers", "managedFields",
    ]

    /// Nil when missing or invalid (reported).
    let name: String?
    let nameMark: Mark?
    /// `metadata.namespace`, default `default`; nil when invalid (reported).
    let namespace: String?
    /// Nil when absent or not a mapping of strings (reported).
    let labels: [String: (value: String, mark: Mark?)]?
    let annotations: [String: (value: String, mark: Mark?)]?
    /// Where the labels and annotations mappings are, for problems about a missing entry.
    let labelsMark: Mark?
    let annotationsMark: Mark?

    /// Reads `metadata`. `valid` and `rule` check the name (a Service name for a
    /// ServiceExport, a DNS subdomain for most objects). `required` adds required fields
    /// besides `name`. Nil when `node` is not a mapping.
    static func read(
        _ node: Node, _ path: FieldPath, reader: NodeReader,
        nameValid: (String) -> Bool = NameRules.isDNSSubdomain, nameRule: String = NameRules.subdomainRule,
        required: [String] = []
    ) -> ObjectMetadata? {
        guard let metadata = reader.fields(
            node, path, allowed: ["name", "namespace", "labels", "annotations"], required: ["name"] + required, ignored: ignoredFields)
        else { return nil }
        let name = metadata["name"].flatMap { validated($0, metadata.field("name"), reader: reader, valid: nameValid, rule: nameRule) }
        let namespace: String? = metadata["namespace"].map {
            validated($0, metadata.field("namespace"), reader: reader, valid: NameRules.isDNSLabel, rule: NameRules.dnsLabelRule)
        } ?? "default"
        let labels = metadata["labels"].flatMap { reader.stringMap($0, metadata.field("labels")) }
        let annotations = metadata["annotations"].flatMap { reader.stringMap($0, metadata.field("annotations")) }
        return ObjectMetadata(
            name: name, nameMark: metadata["name"]?.mark, namespace: namespace, labels: labels, annotations: annotations,
            labelsMark: metadata["labels"]?.mark, annotationsMark: metadata["annotations"]?.mark)
    }

    /// A string that follows `rule`, or nil (reported).
    static func validated(_ node: Node, _ path: FieldPath, reader: NodeReader, valid: (String) -> Bool, rule: String) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard valid(text) else {
            reader.report(node, path, "\"\(text)\" \(rule)")
            return nil
        }
        return text
    }
}

/// `file:line:column`, or just the file when the position is unknown: how problems point at
/// another definition ("the first is at mesh/a.yaml:4:9").
func problemLocation(_ file: String, _ mark: Mark?) -> String {
    guard let mark else { return file }
    return "\(file):\(mark)"
}
