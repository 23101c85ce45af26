import Testing
@testable import CausewayApp

/// Who the DNS server answers: everyone on loopback; on any other address only this host's
/// own addresses (loopback, its interfaces'), looked up again at most once a second.
@Suite("DNS source filter")
struct DNSSourceFilterTests {
    /// A lookup that counts its calls and answers `addresses`.
    final class Lookup: @unchecked Sendable {
        var addresses: Set<[UInt8]>
        var calls = 0
        init(_ addresses: Set<[UInt8]>) { self.addresses = addresses }
        func callAsFunction() -> Set<[UInt8]> {
            calls += 1
            return addresses
        }
    }

    static let podIP: [UInt8] = [10, 1, 2, 3]
    static let second: UInt64 = 1_000_000_000

    @Test("on loopback every source is answered, and interfaces are never looked up")
    func loopback() {
        let lookup = Lookup([])
        var filter = DNSSourceFilter(restricted: false, now: 0, lookup: { lookup() })
        func admits(_ source: [UInt8], now: UInt64) -> Bool { filter.admits(source, now: now) }
        #expect(admits([192, 0, 2, 99], now: 0))
        #expect(admits([127, 0, 0, 1], now: 5 * Self.second))
        #expect(lookup.calls == 0)
        #expect(!DNSSourceFilter(listeningOn: SocketAddressSpec("127.0.0.1:15053")!, now: 0).restricted)
        #expect(!DNSSourceFilter(listeningOn: SocketAddressSpec("[::1]:53")!, now: 0).restricted)
        #expect(DNSSourceFilter(listeningOn: SocketAddressSpec("0.0.0.0:53")!, now: 0).restricted)
        #expect(DNSSourceFilter(listeningOn: SocketAddressSpec("[::]:53")!, now: 0).restricted)
        #expect(DNSSourceFilter(listeningOn: SocketAddressSpec("10.1.2.3:53")!, now: 0).restricted)
    }

    @Test("elsewhere only this host's addresses are answered")
    func restricted() {
        let lookup = Lookup([Self.podIP, DNSHostAddresses.bytes(ofLiteral: "fd00::5")!])
        var filter = DNSSourceFilter(restricted: true, now: 0, lookup: { lookup() })
        func admits(_ source: [UInt8], now: UInt64) -> Bool { filter.admits(source, now: now) }
        #expect(admits(Self.podIP, now: 1))
        #expect(admits([127, 0, 0, 1], now: 1))
        #expect(admits([127, 3, 2, 1], now: 1))
        #expect(admits(DNSHostAddresses.bytes(ofLiteral: "::1")!, now: 1))
        #expect(admits(DNSHostAddresses.bytes(ofLiteral: "fd00::5")!, now: 1))
        // An IPv4 client of a dual-stack socket shows as IPv4-mapped IPv6.
        #expect(admits([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], now: 1))
        #expect(admits([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], now: 1))
        // Another host of the pod network, a spoofed source, an unknown family.
        #expect(!admits([10, 1, 2, 4], now: 1))
        #expect(!admits([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 4], now: 1))
        #expect(!admits(DNSHostAddresses.bytes(ofLiteral: "fd00::6")!, now: 1))
        #expect(!admits([], now: 1))
        #expect(lookup.calls == 1)
    }

    @Test("addresses are looked up again once they are a second old, whatever the flood")
    func refresh() {
        let lookup = Lookup([Self.podIP])
        var filter = DNSSourceFilter(restricted: true, now: 0, lookup: { lookup() })
        func admits(_ source: [UInt8], now: UInt64) -> Bool { filter.admits(source, now: now) }
        for i in 0..<10_000 { #expect(!admits([192, 0, 2, UInt8(i % 200)], now: UInt64(i) * 50_000)) }
        #expect(lookup.calls == 1)
        // An interface address that appears later is answered within a second.
        lookup.addresses.insert([10, 9, 9, 9])
        #expect(!admits([10, 9, 9, 9], now: Self.second / 2))
        #expect(admits([10, 9, 9, 9], now: Self.second + 1))
        #expect(lookup.calls == 2)
        // One that goes away is not answered a second later.
        lookup.addresses = [[10, 9, 9, 9]]
        #expect(admits(Self.podIP, now: Self.second + 2))
        #expect(!admits(Self.podIP, now: 2 * Self.second + 3))
        #expect(lookup.calls == 3)
    }
}
