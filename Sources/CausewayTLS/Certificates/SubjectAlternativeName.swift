/// One entry of a certificate's subject alternative name extension, in text form.
public enum SubjectAlternativeName: Hashable, Sendable, CustomStringConvertible {
    /// A URI; the SPIFFE ID of a workload certificate is one of these.
    case uri(String)
    /// A DNS name, e.g. `gateway.cluster2.example` or `*.mesh.example`.
    case dns(String)
    /// An IPv4 or IPv6 address in its usual text form.
    case ip(String)

    public var description: String {
        switch self {
        case .uri(let value): "URI:\(value)"
        case .dns(let value): "DNS:\(value)"
        case .ip(let value): "IP:\(value)"
        }
    }

    /// Checks a URI: printable ASCII without spaces (an IA5String can hold nothing else).
    static func checkURI(_ uri: String) throws(CertificateError) {
        guard !uri.isEmpty, uri.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalidSubjectAlternativeName("\"\(uri)\" is not a URI (printable ASCII, no spaces)")
        }
    }

    /// Checks a DNS name: dot-separated labels of letters, digits and `-` (not at either
    /// end), 1-63 bytes each, 253 in all; the first label may be `*`.
    static func checkDNSName(_ name: String) throws(CertificateError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else {
            throw .invalidSubjectAlternativeName("DNS name must be 1 to 253 bytes: \"\(name)\"")
        }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if index == 0 && label.elementsEqual([UInt8(ascii: "*")]) && labels.count > 2 { continue }
            let valid = (1...63).contains(label.count)
                && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { b in
                    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
                }
            guard valid else {
                throw .invalidSubjectAlternativeName("\"\(name)\" is not a DNS name (labels of letters, digits and '-', a leading '*.' at most)")
            }
        }
    }
}
