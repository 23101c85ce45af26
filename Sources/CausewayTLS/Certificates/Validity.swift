import Foundation

/// When a certificate is valid: `notBefore ..< notAfter`, second precision.
///
/// The tooling never reads the clock itself; callers pass `now` (the CLI passes the real
/// time, tests pass whatever they need, including a period that has already ended).
public struct Validity: Sendable, Equatable {
    /// Clusters' clocks disagree a little: certificates start this much before "now" so a
    /// peer whose clock is behind does not see a brand-new certificate as not yet valid.
    public static let clockSkewAllowance: TimeInterval = 5 * 60

    /// First second of validity.
    public var notBefore: Date
    /// Last moment of validity.
    public var notAfter: Date

    /// An explicit period; `notBefore` must be earlier than `notAfter`.
    public init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// `days` days from `now`, starting `clockSkewAllowance` earlier.
    public static func days(_ days: Int, from now: Date) -> Validity {
        Validity(notBefore: now - clockSkewAllowance, notAfter: now + TimeInterval(days) * 86_400)
    }

    /// Checks the period is not empty and, when `issuer` is given, lies inside it: a
    /// certificate that outlives its issuer would stop verifying before its own end.
    func check(within issuer: Validity?) throws(CertificateError) {
        guard notBefore < notAfter else {
            throw .invalidValidity("notBefore \(Self.format(notBefore)) is not before notAfter \(Self.format(notAfter))")
        }
        if let issuer, notAfter > issuer.notAfter {
            throw .invalidValidity(
                "would end \(Self.format(notAfter)), after its issuer (\(Self.format(issuer.notAfter))); ask for fewer days or rotate the issuer first"
            )
        }
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Seconds since the epoch, as OpenSSL's ASN1_TIME_set wants them.
    static func epochSeconds(_ date: Date) -> Int {
        Int(date.timeIntervalSince1970.rounded(.down))
    }
}
