import Foundation

/// `Peers/http1_server.py` serving a docroot over HTTP/1.1 on a free loopback port: the
/// local endpoint whose port's `appProtocol` is `http`. It logs each request as a JSON line.
final class HTTP1Backend {
    let port: UInt16
    let process: TestProcess

    init(docroot: String) throws {
        port = Ports.free()
        process = try PythonPeer.start("http1_server.py", [String(port), docroot])
        try Ports.waitListening(port, process: process)
    }

    /// The requests it received so far, in order.
    var requests: [PeerResult] { PythonPeer.lines(of: process).filter { $0["path"] != nil } }

    func stop() { process.stop() }
}
