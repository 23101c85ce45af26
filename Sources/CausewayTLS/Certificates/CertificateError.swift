/// Why a key or certificate could not be made, read or written.
public enum CertificateError: Error, CustomStringConvertible, Sendable {
    /// OpenSSL refused an operation; `detail` is its error queue.
    case openSSL(operation: String, detail: String)
    /// Text that should hold a PEM `what` (certificate, private key) does not.
    case invalidPEM(what: String, detail: String)
    /// A DNS name or IP address that cannot go in a subject alternative name.
    case invalidSubjectAlternativeName(String)
    /// A validity period that ends before it starts, or outlives the issuer.
    case invalidValidity(String)
    /// A cluster or certificate name that cannot be used as a file name and subject.
    case invalidName(String)
    /// The issuer is not a CA, or its key does not match its certificate.
    case invalidIssuer(String)

    public var description: String {
        switch self {
        case .openSSL(let operation, let detail): "\(operation) failed: \(detail)"
        case .invalidPEM(let what, let detail): "not a PEM \(what): \(detail)"
        case .invalidSubjectAlternativeName(let message): "invalid subject alternative name: \(message)"
        case .invalidValidity(let message): "invalid validity: \(message)"
        case .invalidName(let message): "invalid name: \(message)"
        case .invalidIssuer(let message): "invalid issuer: \(message)"
        }
    }
}
