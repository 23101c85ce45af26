/// The path of a field inside a resource, as shown in problems: `spec.listeners[1].address`,
/// `metadata.labels["kubernetes.io/service-name"]`.
struct FieldPath: CustomStringConvertible {
    let description: String

    /// The document root; its children print without a leading dot.
    static let root = FieldPath(description: "")

    /// A mapping key. Keys that are not plain identifiers (label names with dots or slashes)
    /// are bracketed and quoted so the path stays unambiguous.
    func key(_ name: String) -> FieldPath {
        let plain = !name.isEmpty && name.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
        if !plain { return FieldPath(description: description + "[\"\(name)\"]") }
        return FieldPath(description: description.isEmpty ? name : description + "." + name)
    }

    /// A list element.
    func index(_ i: Int) -> FieldPath {
        FieldPath(description: description + "[\(i)]")
    }
}
