import Testing
@testable import CausewayApp

@Suite("--drain-seconds")
struct DrainOptionTests {
    @Test("usable values", arguments: [(0.0, UInt64(0)), (0.25, 250_000_000), (10, 10_000_000_000), (3600, 3_600_000_000_000)])
    func valid(seconds: Double, nanos: UInt64) {
        #expect(DrainOption.problem(seconds: seconds) == nil)
        #expect(DrainOption.nanos(seconds: seconds) == nanos)
    }

    @Test("refused values say why", arguments: [
        (Double.nan, "--drain-seconds must be a number of seconds, got nan"),
        (Double.infinity, "--drain-seconds must be finite, got inf"),
        (-Double.infinity, "--drain-seconds must be finite, got -inf"),
        (-1, "--drain-seconds must not be negative, got -1.0"),
        (-0.001, "--drain-seconds must not be negative, got -0.001"),
        (3600.001, "--drain-seconds must be at most 3600 (1 hour), got 3600.001"),
        (1e300, "--drain-seconds must be at most 3600 (1 hour), got 1e+300"),
    ])
    func invalid(seconds: Double, message: String) {
        #expect(DrainOption.problem(seconds: seconds) == message)
    }
}
