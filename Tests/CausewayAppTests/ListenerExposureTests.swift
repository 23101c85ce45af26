import Testing
@testable import CausewayApp

@Suite("Sidecar listeners beyond loopback")
struct ListenerExposureTests {
    @Test("loopback addresses", arguments: [("127.0.0.1:15001", true), ("127.1.2.3:80", true), ("[::1]:15001", true),
                                           ("[::ffff:127.0.0.1]:1", true), ("0.0.0.0:15001", false), ("10.0.0.5:15001", false),
                                           ("[::]:15001", false)])
    func loopback(text: String, expected: Bool) throws {
        #expect(try SocketAddressSpec(parsing: text).isLoopback == expected)
    }

    @Test func onlySidecarListenersOnOtherAddressesAreFlagged() throws {
        let yaml = """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: p }
        spec:
          cluster: c1
          tls: { trustBundle: root.pem, certificateChain: chain.pem, privateKey: key.pem }
          listeners:
          - { name: local, role: sidecar, address: "127.0.0.1:15001" }
          - { name: open, role: sidecar, address: "0.0.0.0:15002" }
          - { name: east-west, role: gateway, address: "0.0.0.0:15443" }
        """
        try withTree(["causeway.yaml": yaml, "root.pem": "x", "chain.pem": "x", "key.pem": "x"]) { tree in
            guard case .success(let config) = tree.load() else {
                Issue.record("config rejected: \(tree.problems())")
                return
            }
            #expect(config.proxy.listeners.filter(\.exposesIdentityBeyondLoopback).map(\.name) == ["open"])
        }
    }
}
