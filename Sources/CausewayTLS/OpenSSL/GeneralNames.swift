import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// Subject alternative names to and from OpenSSL's `GENERAL_NAMES` stacks: the bridging
/// file for the SAN extension.
enum GeneralNames {
    /// Builds a `GENERAL_NAMES` stack; the caller frees it with `GENERAL_NAMES_free`.
    static func make(_ names: [SubjectAlternativeName]) throws(CertificateError) -> OpaquePointer {
        guard let stack = causeway_sk_GENERAL_NAME_new_null() else {
            throw .openSSL(operation: "sk_GENERAL_NAME_new_null", detail: "out of memory")
        }
        for name in names {
            do throws(CertificateError) {
                let entry = try makeEntry(name)
                guard causeway_sk_GENERAL_NAME_push(stack, entry) > 0 else {
                    GENERAL_NAME_free(entry)
                    throw .openSSL(operation: "sk_GENERAL_NAME_push", detail: "out of memory")
                }
            } catch {
                GENERAL_NAMES_free(stack)
                throw error
            }
        }
        return stack
    }

    private static func makeEntry(_ name: SubjectAlternativeName) throws(CertificateError) -> UnsafeMutablePointer<GENERAL_NAME> {
        guard let entry = GENERAL_NAME_new() else {
            throw .openSSL(operation: "GENERAL_NAME_new", detail: "out of memory")
        }
        switch name {
        case .uri(let text), .dns(let text):
            guard let string = ASN1_IA5STRING_new() else {
                GENERAL_NAME_free(entry)
                throw .openSSL(operation: "ASN1_IA5STRING_new", detail: "out of memory")
            }
            let bytes = Array(text.utf8)
            guard ASN1_STRING_set(string, bytes, Int32(bytes.count)) == 1 else {
                ASN1_IA5STRING_free(string)
                GENERAL_NAME_free(entry)
                throw .openSSL(operation: "ASN1_STRING_set", detail: "out of memory")
            }
            if case .uri = name {
                GENERAL_NAME_set0_value(entry, GEN_URI, UnsafeMutableRawPointer(string))
            } else {
                GENERAL_NAME_set0_value(entry, GEN_DNS, UnsafeMutableRawPointer(string))
            }
        case .ip(let text):
            OpenSSLErrorQueue.clear()
            guard let octets = a2i_IPADDRESS(text) else {
                OpenSSLErrorQueue.clear()
                GENERAL_NAME_free(entry)
                throw .invalidSubjectAlternativeName("\"\(text)\" is not an IPv4 or IPv6 address")
            }
            GENERAL_NAME_set0_value(entry, GEN_IPADD, UnsafeMutableRawPointer(octets))
        }
        return entry
    }

    /// The subject alternative names of `x509` (borrowed), in certificate order. A missing,
    /// duplicated or undecodable extension reads as none; entry types other than URI, DNS
    /// and IP are skipped.
    static func read(from x509: OpaquePointer) -> [SubjectAlternativeName] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else {
            OpenSSLErrorQueue.clear()
            return []
        }
        let stack = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(stack) }
        var names: [SubjectAlternativeName] = []
        for index in 0..<causeway_sk_GENERAL_NAME_num(stack) {
            guard let entry = causeway_sk_GENERAL_NAME_value(stack, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(entry, &type) else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            switch type {
            case GEN_URI: names.append(.uri(text(of: string)))
            case GEN_DNS: names.append(.dns(text(of: string)))
            case GEN_IPADD:
                if let address = ipText(of: string) { names.append(.ip(address)) }
            default: break
            }
        }
        return names
    }

    /// Every URI entry of `x509`'s SAN extension, in order: what the peer identity check
    /// needs (it counts them all, not only the `spiffe` ones).
    static func uris(of x509: OpaquePointer) -> [String] {
        read(from: x509).compactMap { if case .uri(let u) = $0 { u } else { nil } }
    }

    /// An ASN1 string's bytes as text. A NUL stays a NUL and invalid UTF-8 becomes U+FFFD,
    /// so a validator refuses such a name instead of seeing a shortened one.
    private static func text(of string: UnsafeMutablePointer<ASN1_STRING>) -> String {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private static func ipText(of string: UnsafeMutablePointer<ASN1_STRING>) -> String? {
        let length = Int(ASN1_STRING_length(string))
        guard let data = ASN1_STRING_get0_data(string) else { return nil }
        let family: Int32
        switch length {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { buffer in
            guard inet_ntop(family, data, buffer.baseAddress, socklen_t(buffer.count)) != nil else { return nil }
            return String(cString: buffer.baseAddress!)
        }
    }
}
