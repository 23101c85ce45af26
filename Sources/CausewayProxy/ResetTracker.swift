/// Remembers how the last 100 streams of a connection ended and says when most of them
/// were reset early: the rapid-reset pattern (CVE-2023-44487) and its server-side variant
/// (MadeYouReset, where our own resets are provoked), which nghttp2 1.52's received-RST
/// rate limit does not see. Envoy ends such a connection with GOAWAY ENHANCE_YOUR_CALM.
struct ResetTracker {
    /// Streams looked at.
    static let window = 100
    /// Premature closes among the last `window` streams that end the connection.
    static let limit = 50
    /// Streams that lived longer than this before their reset are not premature (Envoy's
    /// default minimum stream lifetime): a client cancelling long calls is not an attack.
    static let minimumLifetimeNanos: UInt64 = 1_000_000_000

    /// One bit per recent stream, oldest first out: 1 = reset before completing.
    private var bits: (UInt64, UInt64) = (0, 0)
    private var next = 0
    private var seen = 0
    private(set) var premature = 0

    /// Records one closed stream; returns true when the connection should be ended.
    mutating func record(premature isPremature: Bool) -> Bool {
        let old = bit(next)
        if seen == Self.window { premature -= old ? 1 : 0 } else { seen += 1 }
        set(next, isPremature)
        if isPremature { premature += 1 }
        next = (next + 1) % Self.window
        return seen == Self.window && premature > Self.limit
    }

    private func bit(_ i: Int) -> Bool {
        i < 64 ? bits.0 >> UInt64(i) & 1 == 1 : bits.1 >> UInt64(i - 64) & 1 == 1
    }

    private mutating func set(_ i: Int, _ value: Bool) {
        if i < 64 {
            let mask: UInt64 = 1 << UInt64(i)
            bits.0 = value ? bits.0 | mask : bits.0 & ~mask
        } else {
            let mask: UInt64 = 1 << UInt64(i - 64)
            bits.1 = value ? bits.1 | mask : bits.1 & ~mask
        }
    }
}
