import CausewayTLS
import Foundation

/// A clock a test moves by hand, for `TLSConfiguration.clock`. Starts at the real time, so
/// certificates issued "now" are valid until the test moves it.
final class ManualClock: @unchecked Sendable {
    // @unchecked Sendable: `seconds` is only touched under `lock`.
    private let lock = NSLock()
    private var seconds: Int64

    init(start: Int64 = Int64(Date().timeIntervalSince1970)) {
        seconds = start
    }

    /// Seconds since the Unix epoch, as the engine will read them.
    var now: Int64 { lock.withLock { seconds } }

    /// Moves the clock by `delta` seconds (negative: back).
    func advance(by delta: Int64) {
        lock.withLock { seconds += delta }
    }

    /// A `TLSClock` reading this clock.
    var clock: TLSClock { TLSClock { [self] in now } }

    static let day: Int64 = 86_400
}
