import CausewayMesh
import CausewayTLS

/// The name grammars Kubernetes uses, so names that work there work here and names that
/// would not fit in a DNS query (service aliases are DNS names) are refused at load time.
enum NameRules {
    /// RFC 1123 label: 1...63 of `a-z 0-9 -`, starting and ending alphanumeric. Namespaces,
    /// cluster names, listener names.
    static func isDNSLabel(_ name: String) -> Bool {
        DNSLabel.isValid(name)
    }

    /// RFC 1035 label: an RFC 1123 label that starts with a letter. Service names.
    static func isServiceName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") else { return false }
        return isDNSLabel(name)
    }

    /// RFC 1123 subdomain: dot-separated labels, 1...253 bytes. Object names.
    static func isDNSSubdomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }

    /// SPIFFE trust domain: 1...255 of `a-z 0-9 . - _` (SPIFFE ID spec §2.1). This is
    /// `CausewayTLS.TrustDomain`'s rule, the one the handshake and `SnapshotBuilder` apply, so
    /// a trust domain accepted here is one the TLS contexts can be built with.
    static func isTrustDomain(_ name: String) -> Bool {
        (try? TrustDomain(name)) != nil
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    static let dnsLabelRule = "must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
    static let serviceNameRule = "must be a DNS label starting with a letter: at most 63 lowercase letters, digits and '-'"
    static let subdomainRule = "must be a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"
    static let trustDomainRule = "must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'"
}
