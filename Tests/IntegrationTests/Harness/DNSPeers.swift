import Foundation

/// The port a `causeway run` DNS server bound (`spec.dns.address` with port 0), read from
/// its "causeway: dns on 127.0.0.1:N (udp, tcp)" line.
enum DNSPort {
    static func announced(by process: TestProcess, timeout: TimeInterval = 20) throws -> UInt16 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for line in process.log.split(separator: "\n") where line.hasPrefix("causeway: dns on ") {
                let address = line.dropFirst("causeway: dns on ".count).split(separator: " ").first ?? ""
                if let port = address.split(separator: ":").last.flatMap({ UInt16($0) }) { return port }
            }
            if !process.process.isRunning { break }
            usleep(20_000)
        }
        throw HarnessError("\(process.name) announced no DNS address:\n\(process.log)")
    }
}

/// What `dig` printed for one question.
struct DigAnswer: CustomStringConvertible {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...; nil when no answer came.
    let status: String?
    /// Header flags (`qr`, `aa`, `tc`, `rd`, `ra`).
    let flags: Set<String>
    /// RDATA of each answer record, in order (`240.240.165.39`).
    let addresses: [String]
    /// Answer records' TTLs.
    let ttls: [Int]
    /// Size of the answer received.
    let size: Int?
    let output: String

    var description: String { output }
}

/// Runs Debian's `dig` (dnsutils) against a local port.
enum Dig {
    /// Asks `name`/`type` at 127.0.0.1:`port`, one try, with `options` (`+tcp`, `+noedns`,
    /// `+ignore`).
    static func ask(_ port: UInt16, _ name: String, _ type: String = "A", _ options: [String] = []) throws -> DigAnswer {
        let r = try runCommand("dig", ["@127.0.0.1", "-p", String(port), name, type, "+tries=1", "+time=5"] + options, timeout: 30)
        return parse(r.stdoutText + r.stderr)
    }

    static func parse(_ output: String) -> DigAnswer {
        var status: String?
        var flags: Set<String> = []
        var addresses: [String] = []
        var ttls: [Int] = []
        var size: Int?
        var inAnswer = false
        for raw in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if let range = line.range(of: "status: ") {
                status = String(line[range.upperBound...].prefix { $0 != "," })
            }
            if line.hasPrefix(";; flags: ") {
                let list = line.dropFirst(";; flags: ".count).prefix { $0 != ";" }
                flags = Set(list.split(separator: " ").map(String.init))
            }
            if let range = line.range(of: "MSG SIZE  rcvd: ") { size = Int(line[range.upperBound...]) }
            if line.hasPrefix(";; ANSWER SECTION:") { inAnswer = true; continue }
            if inAnswer {
                if line.isEmpty { inAnswer = false; continue }
                let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if columns.count >= 5 {
                    addresses.append(String(columns[4]))
                    ttls.append(Int(columns[1]) ?? -1)
                }
            }
        }
        return DigAnswer(status: status, flags: flags, addresses: addresses, ttls: ttls, size: size, output: output)
    }
}

/// `Peers/dns_upstream.py`: a loopback upstream resolver with fixed answers.
final class DNSUpstreamPeer {
    let process: TestProcess
    let port: UInt16

    init() throws {
        process = try PythonPeer.start("dns_upstream.py", [])
        let ready = try PythonPeer.wait(for: process, timeout: 20) { $0.int("port") != nil }
        port = UInt16(ready.int("port")!)
    }

    /// The questions it received, as (protocol, name).
    var queries: [(proto: String, name: String)] {
        PythonPeer.lines(of: process).compactMap { line in
            guard let proto = line.string("proto"), let name = line.string("name") else { return nil }
            return (proto, name)
        }
    }

    func stop() { process.stop() }
}

/// One counter of `/metrics`: the value of the series whose line starts with `series`
/// (name and labels, e.g. `causeway_dns_queries_total{cluster="test-cluster",outcome="mesh"}`).
func metricValue(_ metrics: String, _ series: String) -> Double? {
    for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}
