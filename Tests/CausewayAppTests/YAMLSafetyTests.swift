import Foundation
import Testing
@testable import CausewayApp

private let refused = "anchors and aliases are not allowed"

@Suite("YAML safety: anchors, aliases and file size")
struct YAMLSafetyTests {
    // MARK: Anchors and aliases

    static let anchorCases: [ErrorCase] = [
        ErrorCase("an anchor on a scalar", config: proxyYAML("  namespace: &ns production\n"),
                  ["causeway.yaml:11:14: \(refused) (found anchor &ns); write each value out in full"]),
        ErrorCase("an anchor and its alias", config: proxyYAML("  namespace: &ns production\n  trustDomain: *ns\n"),
                  ["causeway.yaml:11:14: \(refused) (found anchor &ns); write each value out in full",
                   "causeway.yaml:12:16: \(refused) (found alias *ns); write each value out in full"]),
        ErrorCase("an alias without its anchor", config: proxyYAML("  namespace: *ns\n"),
                  ["causeway.yaml:11:14: \(refused) (found alias *ns); write each value out in full"]),
        ErrorCase("an anchored mapping and a merge key",
                  config: proxyYAML("  http2: &h2 { maxConcurrentStreams: 10 }\n  upstream:\n    <<: *h2\n"),
                  ["causeway.yaml:11:10: \(refused) (found anchor &h2); write each value out in full",
                   "causeway.yaml:13:9: \(refused) (found alias *h2); write each value out in full"]),
        ErrorCase("an anchor after a tag, in a flow sequence",
                  config: proxyYAML("  resources: [ !!str &r mesh/, *r ]\n"),
                  ["causeway.yaml:11:22: \(refused) (found anchor &r); write each value out in full",
                   "causeway.yaml:11:32: \(refused) (found alias *r); write each value out in full"]),
        ErrorCase("an anchored listener item",
                  config: proxyYAML("  - &l { name: two, role: sidecar, address: \"127.0.0.1:0\" }\n"),
                  ["causeway.yaml:11:5: \(refused) (found anchor &l); write each value out in full"]),
        ErrorCase("an alias used as a mapping key", config: proxyYAML("  *k : x\n"),
                  ["causeway.yaml:11:3: \(refused) (found alias *k); write each value out in full"]),
        ErrorCase("an anchor in a second document",
                  config: proxyYAML() + "---\n" + sliceYAML().replacingOccurrences(of: "addressType: IPv4", with: "addressType: &t IPv4"),
                  ["causeway.yaml:19:14: \(refused) (found anchor &t); write each value out in full"]),
        ErrorCase("an anchor before a syntax error is what is reported",
                  config: proxyYAML("  namespace: &ns production\n  admin: { address: \"127.0.0.1:15000\"\n"),
                  ["causeway.yaml:11:14: \(refused) (found anchor &ns); write each value out in full"]),
        ErrorCase("an anchor in a resource file, beside a problem in another file",
                  ["causeway.yaml": proxyYAML("  workers: 0\n  resources: [ mesh/ ]\n"),
                   "mesh/a.yaml": sliceYAML().replacingOccurrences(of: "name: webapp-1", with: "name: &n webapp-1"),
                   "mesh/b.yaml": sliceYAML().replacingOccurrences(of: "IPv4", with: "IPv7")],
                  ["causeway.yaml:11:12: spec.workers: 0 is out of range: must be between 1 and 256",
                   "mesh/a.yaml:4:9: \(refused) (found anchor &n); write each value out in full",
                   "mesh/b.yaml:8:14: addressType: unknown addressType \"IPv7\"; expected IPv4 or IPv6"]),
    ]

    @Test("anchors and aliases are refused where they are", arguments: anchorCases)
    func anchors(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("a file of many aliases lists the first twenty and counts the rest")
    func manyAliases() throws {
        let aliases = (0..<25).map { _ in "  - *x\n" }.joined()
        let problems = try withTree(["causeway.yaml": proxyYAML("  resources:\n" + aliases)]) { $0.problems() }
        try #require(problems.count == 21)
        #expect(problems.first == "causeway.yaml:12:5: \(refused) (found alias *x); write each value out in full")
        #expect(problems[19] == "causeway.yaml:31:5: \(refused) (found alias *x); write each value out in full")
        #expect(problems.last == "causeway.yaml:32:5: 5 more anchors and aliases from here on are not listed")
    }

    /// Each level names the one before twice, so the last alias stands for 2^20 leaves. As a
    /// mapping key, composing it makes Yams hash all of them (its duplicate-key check): about
    /// 20 s in a debug build without the scan, each further level doubling it. The scan
    /// refuses it in milliseconds.
    @Test("an exponential alias key is refused before it is composed", .timeLimit(.minutes(1)))
    func aliasBomb() throws {
        var text = proxyYAML() + "---\nlevels:\n- &a0 [x, x]\n"
        for level in 1...20 { text += "- &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        text += "- { *a20 : 1, *a19 : 2 }\n"
        let clock = ContinuousClock()
        let start = clock.now
        let problems = try withTree(["causeway.yaml": text]) { $0.problems() }
        #expect(clock.now - start < .seconds(10))
        #expect(problems.first == "causeway.yaml:13:3: \(refused) (found anchor &a0); write each value out in full")
        #expect(problems.count == 21)
    }

    @Test("& and * inside strings, comments, plain scalars and block scalars are not anchors")
    func lookalikes() throws {
        let config = proxyYAML().replacingOccurrences(of: "  name: cluster1-proxy\n", with: """
              name: cluster1-proxy  # not an anchor: &a, nor an alias: *b
              annotations:
                single: '&a *b'
                double: "&a *b \\" *c"
                plain: a&b c*d e & f * g
                folded: >
                  *bold* and &amp;
                  * a bullet
                literal: |
                  &anchor-looking line
                  *alias-looking line
                    - *nested
              labels: { team: "*mesh*", "&k": "*v" }

            """)
        let loaded = try withTree(["causeway.yaml": config]) { try $0.load().get() }
        #expect(loaded.proxy.name == "cluster1-proxy")
    }

    @Test("the scanner reports each anchor and alias with its position and name")
    func scanner() {
        #expect(YAMLAnchors.scan("a: &x 1\nb: *x\n'c': \"&no\" # *no\n") == .scanned([
            YAMLAnchors.Found(kind: .anchor, name: "x", line: 1, column: 4),
            YAMLAnchors.Found(kind: .alias, name: "x", line: 2, column: 4),
        ]))
        #expect(YAMLAnchors.scan("a: 1\n") == .scanned([]))
        #expect(YAMLAnchors.scan("") == .scanned([]))
        // Stops at a syntax error; the anchor before it is still found.
        #expect(YAMLAnchors.scan("a: &x 1\nb: [\n") == .scanned([YAMLAnchors.Found(kind: .anchor, name: "x", line: 1, column: 4)]))
    }

    // MARK: File size

    /// `proxyYAML()` padded with a comment to exactly `size` bytes: valid but for its size.
    private func paddedProxy(size: Int) -> String {
        let base = proxyYAML() + "#"
        return base + String(repeating: "x", count: size - base.utf8.count - 1) + "\n"
    }

    @Test("a config file of 4 MiB + 1 byte is refused, naming its size")
    func configTooLarge() throws {
        let text = paddedProxy(size: (4 << 20) + 1)
        #expect(text.utf8.count == 4_194_305)
        let problems = try withTree(["causeway.yaml": text]) { $0.problems() }
        #expect(problems == ["causeway.yaml: file is 4194305 bytes; a configuration file may have at most 4194304 bytes (4 MiB)"])
    }

    @Test("a config file of exactly 4 MiB loads")
    func configAtLimit() throws {
        let text = paddedProxy(size: 4 << 20)
        #expect(text.utf8.count == 4_194_304)
        let config = try withTree(["causeway.yaml": text]) { try $0.load().get() }
        #expect(config.proxy.name == "cluster1-proxy")
    }

    @Test("an oversized resource file is refused; the rest of the config is still checked")
    func resourceTooLarge() throws {
        let big = sliceYAML() + "#" + String(repeating: "y", count: 5 << 20) + "\n"
        let files = [
            "causeway.yaml": proxyYAML("  workers: 0\n  resources: [ mesh/ ]\n"),
            "mesh/a.yaml": big,
            "mesh/b.yaml": sliceYAML().replacingOccurrences(of: "IPv4", with: "IPv7"),
        ]
        let problems = try withTree(files) { $0.problems() }
        #expect(problems == [
            "causeway.yaml:11:12: spec.workers: 0 is out of range: must be between 1 and 256",
            "mesh/a.yaml: file is \(big.utf8.count) bytes; a configuration file may have at most 4194304 bytes (4 MiB)",
            "mesh/b.yaml:8:14: addressType: unknown addressType \"IPv7\"; expected IPv4 or IPv6",
        ])
    }

    @Test("a file without a size (a device) is read only up to the limit")
    func endlessFile() throws {
        #expect(YAMLDocuments.contents(ofFile: "/dev/zero") == .tooLarge(size: nil))
        let problems = try withTree(["causeway.yaml": proxyYAML("  resources: [ /dev/zero ]\n")]) { $0.problems() }
        #expect(problems == ["/dev/zero: file has more than 4194304 bytes; a configuration file may have at most 4194304 bytes (4 MiB)"])
    }
}
