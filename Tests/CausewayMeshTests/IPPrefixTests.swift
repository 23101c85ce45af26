import Testing
import CausewayMesh

@Suite("IPPrefix and MeshDestinations")
struct IPPrefixTests {
    @Test("CIDRs parse to their canonical text", arguments: [
        ("240.240.0.0/16", "240.240.0.0/16", 16),
        ("169.254.169.254/32", "169.254.169.254/32", 32),
        ("0.0.0.0/0", "0.0.0.0/0", 0),
        ("fd00::/8", "fd00::/8", 8),
        ("2001:DB8:0::/48", "2001:db8::/48", 48),
        ("::1/128", "::1/128", 128),
        ("2001:db8::8000:0/97", "2001:db8::8000:0/97", 97),
    ])
    func valid(text: String, canonical: String, length: Int) throws {
        let prefix = try IPPrefix(parsing: text)
        #expect(prefix.description == canonical)
        #expect(prefix.length == length)
    }

    @Test("refusals say what to write", arguments: [
        ("10.0.0.5/8", "\"10.0.0.5/8\" has host bits set; the network is 10.0.0.0/8"),
        ("169.254.169.254", "\"169.254.169.254\" has no prefix length; write 169.254.169.254/32 for one address"),
        ("fd00::1", "\"fd00::1\" has no prefix length; write fd00::1/128 for one address"),
        ("10.0.0.0/33", "prefix length \"33\" in \"10.0.0.0/33\" must be a number from 0 to 32"),
        ("fd00::/129", "prefix length \"129\" in \"fd00::/129\" must be a number from 0 to 128"),
        ("10.0.0.0/08", "prefix length \"08\" in \"10.0.0.0/08\" must be a number from 0 to 32"),
        ("10.0.0.0/", "prefix length \"\" in \"10.0.0.0/\" must be a number from 0 to 32"),
        ("webapp/8", "\"webapp\" in \"webapp/8\" is not an IP address"),
        ("webapp", "\"webapp\" is not a CIDR such as 10.0.0.0/8 or fd00::/8"),
        ("fd00::1/64", "\"fd00::1/64\" has host bits set; the network is fd00::/64"),
    ])
    func invalid(text: String, message: String) {
        #expect(throws: IPPrefix.ParseError.self) { try IPPrefix(parsing: text) }
        do {
            _ = try IPPrefix(parsing: text)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test("contains: the network's first and last address, not the ones beside it")
    func containsBounds() throws {
        let v4 = try IPPrefix(parsing: "240.240.0.0/16")
        #expect(v4.contains(IPAddress("240.240.0.0")!))
        #expect(v4.contains(IPAddress("240.240.255.255")!))
        #expect(!v4.contains(IPAddress("240.241.0.0")!))
        #expect(!v4.contains(IPAddress("240.239.255.255")!))
        #expect(!v4.contains(IPAddress("::ffff:240.240.0.1")!))
        #expect(v4.contains(ipv4: 0xF0F0_0102))
        #expect(!v4.contains(ipv6High: 0, low: 0xF0F0_0102))
        let all = try IPPrefix(parsing: "0.0.0.0/0")
        #expect(all.contains(IPAddress("255.255.255.255")!))
        let v6 = try IPPrefix(parsing: "2001:db8::8000:0/97")
        #expect(v6.contains(IPAddress("2001:db8::8000:0")!))
        #expect(v6.contains(IPAddress("2001:db8::ffff:ffff")!))
        #expect(!v6.contains(IPAddress("2001:db8::7fff:ffff")!))
        let wide = try IPPrefix(parsing: "fd00::/8")
        #expect(wide.contains(IPAddress("fdff:ffff::1")!))
        #expect(!wide.contains(IPAddress("fe00::")!))
    }

    @Test("mesh destinations: virtual IPs at any port, endpoints at their own port only")
    func meshDestinations() throws {
        let slice = ServiceEntry(key: ServiceKey(namespace: "default", name: "webapp"), index: 0,
                                 readyEndpoints: [EndpointAddress(host: "198.18.0.2", port: 8080)!,
                                                  EndpointAddress(host: "fd00::5", port: 8443)!],
                                 totalEndpoints: 2)
        let table = ServiceTable(services: [slice], defaultNamespace: "default")
        let mesh = MeshDestinations(services: table, virtualIPs: [try IPPrefix(parsing: "240.240.0.0/16")])
        #expect(mesh.endpointCount == 2)
        #expect(mesh.contains(IPDestination(ipv4: 0xC612_0002, port: 8080)))   // 198.18.0.2:8080
        #expect(!mesh.contains(IPDestination(ipv4: 0xC612_0002, port: 8081)))
        #expect(!mesh.isVirtualIP(IPDestination(ipv4: 0xC612_0002, port: 8080)))
        #expect(mesh.contains(IPDestination(ipv4: 0xF0F0_0007, port: 1)))      // 240.240.0.7:1
        #expect(mesh.isVirtualIP(IPDestination(ipv4: 0xF0F0_0007, port: 80)))
        #expect(mesh.contains(IPDestination(ipv6High: 0xfd00_0000_0000_0000, low: 5, port: 8443)))
        #expect(!mesh.contains(IPDestination(ipv6High: 0xfd00_0000_0000_0000, low: 5, port: 80)))
        #expect(IPDestination(EndpointAddress(host: "fd00::5", port: 8443)!).description == "[fd00::5]:8443")
    }
}
