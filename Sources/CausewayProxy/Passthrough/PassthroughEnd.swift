import CausewayLoop

/// One socket of a `PassthroughRelay` (the captured client, or our connection to its
/// original destination) and where it stands. The loop reports its readiness here; the
/// relay decides everything.
///
/// Loop-bound; not thread-safe.
final class PassthroughEnd: LoopHandler {
    /// Which end this is.
    enum Side {
        case client
        case destination
    }

    /// The relay this end belongs to; it deregisters both ends before it goes away.
    unowned(unsafe) let relay: PassthroughRelay
    let side: Side
    /// The socket; -1 once closed.
    var fd: Int32
    /// Watched by the loop. False before the first registration, while parked, and once
    /// closed.
    var registered = false
    /// Taken off the loop after a hang-up it could not be read for (see `PassthroughRelay`).
    var parked = false
    /// What the loop watches for while registered.
    var interest: Interest = []
    /// End of stream was read from it: nothing more will come.
    var readFinished = false
    /// We shut down writing to it (`SHUT_WR`): its peer has our FIN.
    var writeFinished = false
    /// Its last write came back short: more is written when it reports writable.
    var writeBlocked = false

    init(relay: PassthroughRelay, side: Side, fd: Int32) {
        self.relay = relay
        self.side = side
        self.fd = fd
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        // The event may close the relay, and the worker then drops its last reference: keep
        // it alive until the event is handled.
        let relay: PassthroughRelay = self.relay
        withExtendedLifetime(relay) {
            relay.event(on: self, readable: readable, writable: writable, hangup: hangup)
        }
    }

    func loopFlush() {}
}
