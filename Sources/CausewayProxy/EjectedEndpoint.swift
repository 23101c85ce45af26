/// An endpoint that outlier detection (or the passive check) has taken out of a service on
/// one worker, as `/endpoints` shows it. Ejection is per worker (docs/policy.md).
public struct EjectedEndpoint: Sendable {
    public let service: String
    public let endpoint: String
    public let worker: Int
    /// Times it was ejected (the ejection time multiplier).
    public let ejections: Int
    /// Until it returns.
    public let remainingMillis: Int
}
