import XCTest
import CausewayMesh
@testable import CausewayDNS

final class VirtualIPRangeTests: XCTestCase {
    private func parseError(_ text: String) -> String? {
        do {
            _ = try VirtualIPRange(parsing: text)
            return nil
        } catch {
            return error.message
        }
    }

    func testDefaultRange() {
        let range = VirtualIPRange.defaultIPv4
        XCTAssertEqual(range.description, "240.240.0.0/16")
        XCTAssertEqual(range.capacity, 65_534)
        XCTAssertEqual(VirtualIPRange.text(of: range.address(at: 0)), "240.240.0.1")
        XCTAssertEqual(VirtualIPRange.text(of: range.address(at: 65_533)), "240.240.255.254")
        XCTAssertTrue(range.contains([240, 240, 9, 9]))
        XCTAssertFalse(range.contains([240, 241, 0, 1]))
        XCTAssertFalse(range.contains([240, 240, 0, 1, 0]))
    }

    func testSmallRangeSkipsNetworkAndBroadcast() throws {
        let range = try VirtualIPRange(parsing: "10.9.8.0/30")
        XCTAssertEqual(range.capacity, 2)
        XCTAssertEqual(VirtualIPRange.text(of: range.address(at: 0)), "10.9.8.1")
        XCTAssertEqual(VirtualIPRange.text(of: range.address(at: 1)), "10.9.8.2")
    }

    func testIPv6Ranges() throws {
        let wide = try VirtualIPRange(parsing: "fd00:ca05::/48")
        XCTAssertEqual(wide.family, .ipv6)
        XCTAssertEqual(wide.capacity, UInt64.max - 1)
        XCTAssertEqual(VirtualIPRange.text(of: wide.address(at: 0)), "fd00:ca05::1")
        XCTAssertEqual(VirtualIPRange.text(of: wide.address(at: 0xffff)), "fd00:ca05::1:0")
        XCTAssertTrue(wide.contains(wide.address(at: 12345)))
        XCTAssertFalse(wide.contains([240, 240, 0, 1]))
        let narrow = try VirtualIPRange(parsing: "fd00::100/120")
        XCTAssertEqual(narrow.capacity, 254)
        XCTAssertEqual(VirtualIPRange.text(of: narrow.address(at: 253)), "fd00::1fe")
        let exact = try VirtualIPRange(parsing: "fd00:1:2:3::/64")
        XCTAssertEqual(VirtualIPRange.text(of: exact.address(at: exact.capacity - 1)), "fd00:1:2:3:ffff:ffff:ffff:fffe")
    }

    func testRefusals() {
        XCTAssertEqual(parseError("240.240.1.0/16"), "\"240.240.1.0/16\" has host bits set; write 240.240.0.0/16")
        XCTAssertEqual(parseError("fd00::1/64"), "\"fd00::1/64\" has host bits set; write fd00::/64")
        XCTAssertEqual(parseError("240.240.0.0"), "\"240.240.0.0\" is not a CIDR range such as 240.240.0.0/16")
        XCTAssertEqual(parseError("240.240.0.0/16/1"), "\"240.240.0.0/16/1\" is not a CIDR range such as 240.240.0.0/16")
        XCTAssertEqual(parseError("mesh/16"), "\"mesh\" in \"mesh/16\" is not an IP address")
        XCTAssertEqual(parseError("10.0.0.0/33"), "prefix length \"33\" in \"10.0.0.0/33\" must be a number from 0 to 32")
        XCTAssertEqual(parseError("10.0.0.0/-1"), "prefix length \"-1\" in \"10.0.0.0/-1\" must be a number from 0 to 32")
        XCTAssertEqual(parseError("10.0.0.0/"), "prefix length \"\" in \"10.0.0.0/\" must be a number from 0 to 32")
        XCTAssertEqual(parseError("10.0.0.0/31"), "prefix length /31 in \"10.0.0.0/31\" is out of range: must be between /8 and /30")
        XCTAssertEqual(parseError("0.0.0.0/0"), "prefix length /0 in \"0.0.0.0/0\" is out of range: must be between /8 and /30")
        XCTAssertEqual(parseError("fd00::/127"), "prefix length /127 in \"fd00::/127\" is out of range: must be between /8 and /126")
    }
}

final class VirtualIPAllocatorTests: XCTestCase {
    private let range = VirtualIPRange.defaultIPv4

    private func address(_ allocation: VirtualIPAllocation, _ name: String) -> String? {
        allocation.address(of: name).map(VirtualIPRange.text(of:))
    }

    /// The rule, pinned: the values below were computed by an independent implementation
    /// (FNV-1a 64 of the name, one SplitMix64 step, modulo 65,534, plus one). Changing the
    /// rule would move every Service's address in a rolling upgrade; this test says so.
    func testTheRuleIsStable() {
        let a = VirtualIPAllocation(names: ["webapp.production", "webapp-cluster2.production",
                                            "webapp.production.svc.clusterset.local", "api.production"], range: range)
        XCTAssertEqual(address(a, "webapp.production"), "240.240.165.39")
        XCTAssertEqual(address(a, "webapp-cluster2.production"), "240.240.80.149")
        XCTAssertEqual(address(a, "webapp.production.svc.clusterset.local"), "240.240.67.38")
        XCTAssertEqual(address(a, "api.production"), "240.240.217.180")
        XCTAssertEqual(VirtualIPAllocation.preferredNumber(of: "webapp.production", capacity: 65_534), 42_278)
        XCTAssertTrue(a.collisions.isEmpty)
        XCTAssertNil(a.address(of: "other.production"))
    }

    func testOrderAndOtherNamesDoNotMatterWithoutCollisions() {
        let names = (0..<50).map { "svc\($0).ns" }
        let forward = VirtualIPAllocation(names: names, range: range)
        let backward = VirtualIPAllocation(names: names.reversed() + names, range: range)
        let alone = VirtualIPAllocation(names: ["svc7.ns"], range: range)
        XCTAssertEqual(forward.count, 50)
        XCTAssertEqual(backward.count, 50)
        for name in names { XCTAssertEqual(address(forward, name), address(backward, name)) }
        XCTAssertTrue(forward.collisions.isEmpty)
        XCTAssertEqual(address(alone, "svc7.ns"), address(forward, "svc7.ns"))
    }

    func testCollisionsProbeInNameOrderAndAreReported() throws {
        // In a /29 (6 addresses) svc1.ns, svc2.ns and svc3.ns all want number 3.
        let small = try VirtualIPRange(parsing: "10.0.0.0/29")
        for name in ["svc1.ns", "svc2.ns", "svc3.ns"] { XCTAssertEqual(VirtualIPAllocation.preferredNumber(of: name, capacity: 6), 3) }
        XCTAssertEqual(VirtualIPAllocation.preferredNumber(of: "svc8.ns", capacity: 6), 5)
        let a = VirtualIPAllocation(names: ["svc3.ns", "svc8.ns", "svc2.ns", "svc1.ns"], range: small)
        XCTAssertEqual(address(a, "svc1.ns"), "10.0.0.4")  // number 3: first in name order
        XCTAssertEqual(address(a, "svc2.ns"), "10.0.0.5")  // number 4
        XCTAssertEqual(address(a, "svc3.ns"), "10.0.0.6")  // number 5: svc3 sorts before svc8, which wanted 5
        XCTAssertEqual(address(a, "svc8.ns"), "10.0.0.1")  // number 0: wrapped around
        XCTAssertEqual(a.collisions.map(\.name), ["svc2.ns", "svc3.ns", "svc8.ns"])
        XCTAssertEqual(a.collisions.last?.takenBy, "svc3.ns")
        XCTAssertEqual(a.collisions.first?.takenBy, "svc1.ns")
        XCTAssertEqual(a.collisions.first?.address, "10.0.0.4")
    }

    func testAFullRangeLeavesTheLastNamesWithout() throws {
        let tiny = try VirtualIPRange(parsing: "10.0.0.0/30")
        let a = VirtualIPAllocation(names: ["c.ns", "a.ns", "b.ns"], range: tiny)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a.unallocated, ["c.ns"])
        XCTAssertNotNil(a.address(of: "a.ns"))
        XCTAssertNotNil(a.address(of: "b.ns"))
        XCTAssertNotEqual(a.address(of: "a.ns"), a.address(of: "b.ns"))
        XCTAssertNil(a.address(of: "c.ns"))
    }

    func testIPv6AllocationUsesTheSameRule() throws {
        let v6 = try VirtualIPRange(parsing: "fd00:ca05::/48")
        let a = VirtualIPAllocation(names: ["webapp.production"], range: v6)
        let number = VirtualIPAllocation.preferredNumber(of: "webapp.production", capacity: v6.capacity)
        XCTAssertEqual(a.address(of: "webapp.production"), v6.address(at: number))
        XCTAssertEqual(a.address(of: "webapp.production")?.count, 16)
    }

    func testEveryAddressIsInsideTheRangeAndDistinct() throws {
        let small = try VirtualIPRange(parsing: "10.1.0.0/24")
        let names = (0..<254).map { "s\($0).ns" }
        let a = VirtualIPAllocation(names: names, range: small)
        let addresses = names.compactMap { a.address(of: $0) }
        XCTAssertEqual(addresses.count, 254)
        XCTAssertEqual(Set(addresses).count, 254)
        for address in addresses {
            XCTAssertTrue(small.contains(address))
            XCTAssertNotEqual(address.last, 0)
            XCTAssertNotEqual(address.last, 255)
        }
    }
}
