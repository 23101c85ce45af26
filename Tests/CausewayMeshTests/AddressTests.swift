import Testing
import CausewayMesh

@Suite("IPAddress")
struct IPAddressTests {
    @Test("valid literals parse to their canonical text", arguments: [
        ("10.1.0.5", "10.1.0.5", AddressFamily.ipv4),
        ("0.0.0.0", "0.0.0.0", .ipv4),
        ("255.255.255.255", "255.255.255.255", .ipv4),
        ("::", "::", .ipv6),
        ("::1", "::1", .ipv6),
        ("0:0:0:0:0:0:0:1", "::1", .ipv6),
        ("2001:DB8::0005", "2001:db8::5", .ipv6),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", .ipv6),  // first of equal runs
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", .ipv6),  // a single zero group stays
        ("1::", "1::", .ipv6),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", .ipv6),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", .ipv6),
        ("fe80::1:2", "fe80::1:2", .ipv6),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1", .ipv6),
        ("::FFFF:a00:1", "::ffff:10.0.0.1", .ipv6),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221", .ipv6),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", .ipv6),
    ])
    func valid(text: String, canonical: String, family: AddressFamily) throws {
        let ip = try #require(IPAddress(text))
        #expect(ip.description == canonical)
        #expect(ip.family == family)
        #expect(IPAddress(canonical) == ip)
    }

    @Test("anything else is rejected", arguments: [
        "", "10.1.0.x", "10.1.0", "10.1.0.5.6", "256.0.0.1", "10.01.0.5", "1.2.3.4.", ".1.2.3.4", "1..2.3",
        "1234.1.1.1", "-1.0.0.0", " 10.0.0.1", "10.0.0.1 ", "webapp", ":", ":::", "1:::2", "1::2::3",
        ":1", "1:", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1:2:3:4:5:6:7:8", "12345::", "g::",
        "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "[::1]",
    ])
    func invalid(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("bytes are in network order")
    func bytes() throws {
        #expect(try #require(IPAddress("10.1.0.5")).bytes == [10, 1, 0, 5])
        #expect(try #require(IPAddress("2001:db8::ff01")).bytes
            == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x01])
    }
}

@Suite("EndpointAddress and ServiceEntry")
struct EndpointTests {
    @Test("description brackets IPv6 hosts")
    func description() throws {
        #expect(try #require(EndpointAddress(host: "10.0.0.1", port: 8080)).description == "10.0.0.1:8080")
        let v6 = try #require(EndpointAddress(host: "0::1", port: 8080))
        #expect(v6.description == "[::1]:8080")
        #expect(v6.host == "::1")
        #expect(v6.family == .ipv6)
        #expect(EndpointAddress(host: "webapp", port: 80) == nil)
        #expect(ServiceKey(namespace: "production", name: "webapp").description == "webapp.production")
    }

    @Test("spellings of one address are equal")
    func canonicalEquality() {
        #expect(EndpointAddress(host: "2001:db8::1", port: 1) == EndpointAddress(host: "2001:0DB8:0:0::1", port: 1))
        #expect(EndpointAddress(host: "::1", port: 1) != EndpointAddress(host: "::1", port: 2))
    }

    @Test("ready endpoints are sorted by host then port and deduplicated")
    func readyOrder() throws {
        let raw: [(String, UInt16)] = [
            ("10.0.0.2", 80), ("10.0.0.1", 81), ("10.0.0.1", 80), ("10.0.0.2", 80), ("::1", 80), ("0::1", 80),
        ]
        let endpoints = try raw.map { try #require(EndpointAddress(host: $0.0, port: $0.1)) }
        let entry = ServiceEntry(
            key: ServiceKey(namespace: "default", name: "a"), index: 0, readyEndpoints: endpoints, totalEndpoints: 9)
        #expect(entry.readyEndpoints.map(\.description) == ["10.0.0.1:80", "10.0.0.1:81", "10.0.0.2:80", "[::1]:80"])
        #expect(entry.totalEndpoints == 9)
        #expect(entry.sourceCluster == nil)
    }

    @Test("total endpoints is never below the ready count")
    func totalAtLeastReady() throws {
        let a = try #require(EndpointAddress(host: "10.0.0.1", port: 80))
        let b = try #require(EndpointAddress(host: "10.0.0.2", port: 80))
        let entry = ServiceEntry(
            key: ServiceKey(namespace: "default", name: "a"), index: 3, readyEndpoints: [a, b], totalEndpoints: 0,
            sourceCluster: "cluster2")
        #expect(entry.totalEndpoints == 2)
        #expect(entry.index == 3)
        #expect(entry.sourceCluster == "cluster2")
    }
}
