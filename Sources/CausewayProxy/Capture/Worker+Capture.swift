import CausewayLoop

/// Where a captured connection to a mesh address was going, for its sniffer.
struct CapturedDestination {
    /// The original destination (`SO_ORIGINAL_DST`).
    let address: SocketAddress
    /// True when it is a virtual IP: nothing real is there to pass the connection to.
    let virtualIP: Bool
}

/// What happens to a sidecar connection after capture looked at it.
enum CaptureAccept {
    /// Relayed unchanged to its original destination: nothing more to do.
    case passedThrough
    /// Captured while the proxy cannot keep its own connections out of capture
    /// (`CaptureSettings.refusal`): reset and counted; nothing more to do.
    case refused
    /// Sniffed for HTTP; `captured` is nil for a connection capture did not redirect.
    case sniff(CapturedDestination?)
}

extension Worker {
    /// Traffic capture at accept, for a plaintext sidecar listener, decided once per
    /// connection: one not redirected is sniffed and served as always; one redirected to an
    /// address outside the mesh is relayed unchanged at once (no sniffing: a protocol where
    /// the server speaks first works); one redirected to a mesh address is sniffed with the
    /// capture's deadline. Without a `capture` section nothing is looked at: no system call.
    /// While the proxy's own connections would be captured again (`CaptureSettings.refusal`),
    /// every captured connection is reset instead: never relayed or served.
    func acceptCaptured(fd: Int32) -> CaptureAccept {
        guard settings.capture.enabled else { return .sniff(nil) }
        let decision = CaptureDecision.classify(fd: fd, mesh: snapshot.meshDestinations)
        if let reason = settings.capture.refusal, let destination = decision.originalDestination {
            metrics.increment(.capturedConnections)
            metrics.increment(.captureRefused)
            log("captured connection to \(destination) refused: \(reason)", limitedBy: "capture-refused")
            Sockets.closeWithReset(fd)
            return .refused
        }
        switch decision {
        case .direct:
            return .sniff(nil)
        case .passthrough(let destination):
            metrics.increment(.capturedConnections)
            startPassthrough(fd: fd, to: destination, initial: UnsafeRawBufferPointer(start: nil, count: 0))
            return .passedThrough
        case .mesh(let destination, let virtualIP):
            metrics.increment(.capturedConnections)
            return .sniff(CapturedDestination(address: destination, virtualIP: virtualIP))
        }
    }

    /// A captured connection to a mesh address that did not speak HTTP (silent until the
    /// sniff deadline, undecided, or something else): passed through unchanged with the
    /// bytes already read, or, for a virtual IP, closed and counted.
    func captureFallback(fd: Int32, captured: CapturedDestination, initial: UnsafeRawBufferPointer, timedOut: Bool) {
        if timedOut { metrics.increment(.captureSniffTimeouts) }
        guard !captured.virtualIP else {
            metrics.increment(.captureUnroutable)
            log("captured connection to virtual IP \(captured.address) is not HTTP; closed", limitedBy: "capture-unroutable")
            Syscall.close(fd)
            return
        }
        startPassthrough(fd: fd, to: captured.address, initial: initial)
    }
}
