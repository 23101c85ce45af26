import CausewayLoop

extension Worker {
    /// Traffic capture at accept, for a plaintext sidecar listener: a connection that was
    /// not redirected returns false and takes the usual path; one redirected to an address
    /// outside the mesh is relayed unchanged at once (true: taken); one redirected to a mesh
    /// address returns false and is served by the proxy.
    func acceptCaptured(fd: Int32) -> Bool {
        switch CaptureDecision.classify(fd: fd, mesh: snapshot.meshDestinations) {
        case .direct:
            return false
        case .passthrough(let destination):
            metrics.increment(.capturedConnections)
            startPassthrough(fd: fd, to: destination, initial: UnsafeRawBufferPointer(start: nil, count: 0))
            return true
        case .mesh:
            metrics.increment(.capturedConnections)
            return false
        }
    }
}
