import CausewayMesh

/// The netfilter rules that capture a pod's outbound traffic for its sidecar, as
/// `istio-iptables` makes them: chains of our own in the `nat` table, entered from `OUTPUT`.
/// Pure: built from the configuration, rendered as `iptables-restore` input; running them is
/// `CaptureApplier`'s job.
///
/// `CAUSEWAY_OUTPUT`, in order:
/// 1. the proxy's own packets (its `SO_MARK`, or an excluded uid) RETURN: never redirected,
///    so its upstream connections and DNS forwarding do not loop back to it;
/// 2. DNS (UDP and TCP port 53, any destination, loopback included) goes to `CAUSEWAY_DNS`,
///    which redirects it to the sidecar's DNS port;
/// 3. loopback (`-o lo`, 127.0.0.0/8 or ::1) RETURNs: the pod talking to itself;
/// 4. excluded ports, then excluded networks, RETURN;
/// 5. the rest of TCP (or only `includeCIDRs`) goes to `CAUSEWAY_REDIRECT`, which redirects it
///    to the first sidecar listener's port. The listener reads the original destination.
///
/// IPv6 gets the same rules where the sidecar listens on IPv6 (TCP) or its DNS does (port 53);
/// otherwise there are no IPv6 rules and IPv6 traffic is left alone.
///
/// Each family's DNS goes to the sidecar only where its DNS server can take it: `REDIRECT`
/// cannot change a packet's family, and the server listens in one family (`127.0.0.1` or
/// `0.0.0.0`: IPv4; `::1` or `::`, bound IPv6-only: IPv6). The other family's port 53 is
/// left alone (a pod that asks a resolver in that family gets no mesh names), and the header
/// says so, as it says what each family's TCP gets.
public struct CaptureRules: Sendable {
    /// The chains we own, in the order they are created (and flushed and deleted on removal).
    public static let outputChain = "CAUSEWAY_OUTPUT"
    public static let redirectChain = "CAUSEWAY_REDIRECT"
    public static let dnsChain = "CAUSEWAY_DNS"
    public static let chains = [outputChain, redirectChain, dnsChain]
    /// The rule in `OUTPUT` that enters our chains (without `-A`/`-D`).
    public static let jump = ["OUTPUT", "-j", outputChain]

    /// One address family's rules.
    public struct RuleSet: Sendable, Equatable {
        public let family: AddressFamily
        /// Our chains this set uses, in creation order.
        public let chains: [String]
        /// Every rule, as `iptables` arguments after `-t nat`: `-A CHAIN ...`. The jump from
        /// `OUTPUT` comes last.
        public let rules: [[String]]

        /// True when this family needs no rules.
        public var isEmpty: Bool { rules.isEmpty }

        /// `iptables` or `ip6tables`.
        public var command: String { family == .ipv4 ? "iptables" : "ip6tables" }

        /// Input for `iptables-restore --noflush` (or `ip6tables-restore`): declares our
        /// chains and appends the rules in one atomic commit.
        public var restoreInput: String {
            var out = "*nat\n"
            for chain in chains { out += ":\(chain) - [0:0]\n" }
            for rule in rules { out += rule.joined(separator: " ") + "\n" }
            out += "COMMIT\n"
            return out
        }
    }

    /// Why rules cannot be made.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public let ipv4: RuleSet
    public let ipv6: RuleSet
    /// What the rules do, one line each, for the printed header.
    public let summary: [String]
    /// Per family, what its rules are for (TCP to a listener, DNS), one phrase each; empty
    /// for a family without rules. Named when the family's tools are missing.
    public let purposes: [AddressFamily: [String]]

    /// - Parameters:
    ///   - capture: `spec.capture` (or its defaults).
    ///   - target: the sidecar listeners TCP is redirected to.
    ///   - dns: the sidecar's DNS address (`spec.dns.address`), or nil for no DNS capture.
    public init(capture: CaptureConfig, target: CaptureTarget, dns: SocketAddressSpec?) throws(Problem) {
        var dnsPorts: [AddressFamily: UInt16] = [:]
        if let dns {
            switch dns.host {
            case "127.0.0.1", "0.0.0.0": dnsPorts[.ipv4] = dns.port
            case "::1", "::": dnsPorts[.ipv6] = dns.port
            default:
                throw Problem(description: "the DNS address \(dns) cannot be reached by REDIRECT, which delivers to 127.0.0.1 (or ::1); listen on 127.0.0.1 or 0.0.0.0")
            }
            if dns.port == 0 { throw Problem(description: "the DNS address \(dns) has port 0; give it a fixed port to redirect to") }
        }
        ipv4 = Self.rules(.ipv4, capture: capture, tcpPort: target.ipv4.port, dnsPort: dnsPorts[.ipv4])
        ipv6 = Self.rules(.ipv6, capture: capture, tcpPort: target.ipv6?.port, dnsPort: dnsPorts[.ipv6])
        var summary = ["mark \(capture.mark): the proxy's own connections are not redirected"]
        if !capture.excludeUIDs.isEmpty {
            summary.append("uid \(capture.excludeUIDs.map(String.init).joined(separator: ", ")): not redirected")
        }
        var purposes: [AddressFamily: [String]] = [.ipv4: [], .ipv6: []]
        let v4TCP = "IPv4 TCP -> 127.0.0.1:\(target.ipv4.port) (listener \(target.ipv4.name))"
        summary.append(v4TCP)
        purposes[.ipv4]?.append(v4TCP)
        if let v6 = target.ipv6 {
            let v6TCP = "IPv6 TCP -> [::1]:\(v6.port) (listener \(v6.name))"
            summary.append(v6TCP)
            purposes[.ipv6]?.append(v6TCP)
        } else {
            summary.append("IPv6 TCP: not redirected (no sidecar listener on ::1 or ::)")
        }
        for family in [AddressFamily.ipv4, .ipv6] {
            let name = family == .ipv4 ? "IPv4" : "IPv6"
            guard let dns else {
                summary.append("\(name) DNS: not redirected (no spec.dns: the sidecar serves no DNS)")
                continue
            }
            if let port = dnsPorts[family] {
                let line = "\(name) DNS (UDP and TCP port 53) -> \(family == .ipv4 ? "127.0.0.1" : "[::1]"):\(port) (spec.dns.address \(dns))"
                summary.append(line)
                purposes[family]?.append(line)
            } else {
                let other = family == .ipv4 ? "127.0.0.1 or 0.0.0.0" : "::1 or ::"
                summary.append("\(name) DNS: not redirected (spec.dns.address \(dns) takes \(family == .ipv4 ? "IPv6" : "IPv4") only; "
                    + "a resolver the pod asks over \(name) gets no mesh names: listen on \(other) to serve \(name))")
            }
        }
        if !capture.excludePorts.isEmpty {
            summary.append("not redirected: ports \(capture.excludePorts.map(String.init).joined(separator: ", "))")
        }
        if !capture.excludeCIDRs.isEmpty {
            summary.append("not redirected: \(capture.excludeCIDRs.map(\.description).joined(separator: ", "))")
        }
        if !capture.includeCIDRs.isEmpty {
            summary.append("redirected only: \(capture.includeCIDRs.map(\.description).joined(separator: ", "))")
        }
        self.summary = summary
        self.purposes = purposes
    }

    private static func rules(_ family: AddressFamily, capture: CaptureConfig, tcpPort: UInt16?, dnsPort: UInt16?) -> RuleSet {
        guard tcpPort != nil || dnsPort != nil else { return RuleSet(family: family, chains: [], rules: []) }
        let out = outputChain
        var rules: [[String]] = []
        rules.append(["-A", out, "-m", "mark", "--mark", String(capture.mark), "-j", "RETURN"])
        for uid in capture.excludeUIDs {
            rules.append(["-A", out, "-m", "owner", "--uid-owner", String(uid), "-j", "RETURN"])
        }
        if dnsPort != nil {
            for proto in ["udp", "tcp"] {
                rules.append(["-A", out, "-p", proto, "--dport", "53", "-j", dnsChain])
            }
        }
        let loopback = family == .ipv4 ? "127.0.0.0/8" : "::1/128"
        rules.append(["-A", out, "-o", "lo", "-j", "RETURN"])
        rules.append(["-A", out, "-d", loopback, "-j", "RETURN"])
        if tcpPort != nil {
            for port in capture.excludePorts {
                rules.append(["-A", out, "-p", "tcp", "--dport", String(port), "-j", "RETURN"])
            }
            for cidr in capture.excludeCIDRs where cidr.family == family {
                rules.append(["-A", out, "-d", cidr.description, "-j", "RETURN"])
            }
            let includes = capture.includeCIDRs.filter { $0.family == family }
            if capture.includeCIDRs.isEmpty {
                rules.append(["-A", out, "-p", "tcp", "-j", redirectChain])
            } else {
                // includeCIDRs of the other family only: this family's TCP stays as it is.
                for cidr in includes {
                    rules.append(["-A", out, "-d", cidr.description, "-p", "tcp", "-j", redirectChain])
                }
            }
        }
        var chains = [out]
        if let tcpPort {
            chains.append(redirectChain)
            rules.append(["-A", redirectChain, "-p", "tcp", "-j", "REDIRECT", "--to-ports", String(tcpPort)])
        }
        if let dnsPort {
            chains.append(dnsChain)
            for proto in ["udp", "tcp"] {
                rules.append(["-A", dnsChain, "-p", proto, "-j", "REDIRECT", "--to-ports", String(dnsPort)])
            }
        }
        rules.append(["-A"] + jump)
        return RuleSet(family: family, chains: chains, rules: rules)
    }

    /// What `causeway capture` prints: a header saying what the rules do, then each
    /// family's `iptables-restore --noflush` input (lines starting with `#` are comments
    /// to iptables-restore, so each section can be fed to it as it is).
    public func rendered(source: String) -> String {
        var out = "# causeway capture: nat rules for \(source)\n"
        for line in summary { out += "#   \(line)\n" }
        for set in [ipv4, ipv6] {
            out += "\n"
            if set.isEmpty {
                out += "# \(set.command): no rules\n"
                continue
            }
            out += "# \(set.command)-restore --noflush\n"
            out += set.restoreInput
        }
        return out
    }
}

extension CaptureRules {
    /// The rules for a validated `Proxy`: `spec.capture` (which must be present: the sidecar
    /// reads original destinations only then; `capture: {}` takes every default), its sidecar
    /// listeners, and its DNS server's address (`spec.dns.address`). Without `spec.dns`
    /// port 53 is left alone: nothing in the pod would answer it.
    public init(_ proxy: ProxyConfig) throws(Problem) {
        // The sidecar reads original destinations only when it has the section: rules for a
        // Proxy without one would send the pod's traffic to a listener that serves it as if
        // it had been dialled.
        guard proxy.capture.configured else {
            throw Problem(description: "the Proxy has no spec.capture section, and the sidecar honours capture only with one; add `capture: {}` to take every default")
        }
        if let problem = CaptureTarget.problem(listeners: proxy.listeners) { throw Problem(description: problem) }
        // problem(listeners:) == nil guarantees a target.
        try self.init(capture: proxy.capture, target: CaptureTarget(listeners: proxy.listeners)!, dns: proxy.dns?.address)
    }
}
