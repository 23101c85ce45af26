import CausewayDNS
import Yams

/// Validates `spec.dns` into a `DNSConfig`.
enum DNSDocument {
    /// `spec.dns.upstreamTimeout`: 100 ms to 30 s, in milliseconds.
    static let upstreamTimeoutRange = 100...30_000

    static let fields = ["address", "virtualIPs", "virtualIPv6s", "upstream", "upstreamTimeout"]

    /// Reads the section; nil when it has problems (all reported). Relative upstream paths
    /// resolve against the directory of `file`.
    static func read(_ node: Node, _ path: FieldPath, file: ConfigFile, reader: NodeReader) -> DNSConfig? {
        if case .scalar = node {
            reader.report(node, path, "expected a mapping, got \(NodeReader.describe(node)); write dns: {} for every default")
            return nil
        }
        guard let fields = reader.fields(node, path, allowed: fields) else { return nil }
        var ok = true
        var address: SocketAddressSpec? = DNSConfig.defaultAddress
        if let value = fields["address"] {
            address = ProxyDocument.socketAddress(value, fields.field("address"), reader: reader)
            if address == nil { ok = false }
        }
        let virtualIPs = fields["virtualIPs"].map { range($0, fields.field("virtualIPs"), family: .ipv4, reader: reader) }
            ?? VirtualIPRange.defaultIPv4
        if virtualIPs == nil { ok = false }
        var virtualIPv6s: VirtualIPRange?
        if let value = fields["virtualIPv6s"] {
            virtualIPv6s = range(value, fields.field("virtualIPv6s"), family: .ipv6, reader: reader)
            if virtualIPv6s == nil { ok = false }
        }
        var timeout: UInt64? = DNSConfig.defaultUpstreamTimeoutNanos
        if let value = fields["upstreamTimeout"] {
            timeout = reader.durationNanos(value, fields.field("upstreamTimeout"), in: upstreamTimeoutRange, zeroMeansNone: false)
            if timeout == nil { ok = false }
        }
        let upstream = self.upstream(fields["upstream"], fields.field("upstream"), mark: fields.mark, file: file, reader: reader)
        if let (upstream, resolvConf) = upstream, let address,
           DNSConfig.forwardsToItself(upstream: upstream.address, address: address) {
            var message = "the upstream resolver \(upstream.address)"
            if let resolvConf { message += " (the first nameserver of \(resolvConf))" }
            message += upstream.address == address
                ? " is this DNS server's own address"
                : " is an address of this host, where this DNS server listens on \(address) too"
            message += ": questions would be forwarded to itself"
            if resolvConf != nil { message += "; set spec.dns.upstream to the address of a resolver that is not this server" }
            if let value = fields["upstream"] {
                reader.report(value, fields.field("upstream"), message)
            } else {
                reader.report(at: fields.mark, fields.field("upstream"), message)
            }
            ok = false
        }
        guard ok, let address, let virtualIPs, let upstream = upstream?.upstream, let timeout else { return nil }
        return DNSConfig(address: address, virtualIPs: virtualIPs, virtualIPv6s: virtualIPv6s, upstream: upstream,
                         upstreamTimeoutNanos: timeout)
    }

    private static func range(_ node: Node, _ path: FieldPath, family: AddressFamilyName, reader: NodeReader) -> VirtualIPRange? {
        guard let text = reader.string(node, path) else { return nil }
        let range: VirtualIPRange
        do {
            range = try VirtualIPRange(parsing: text)
        } catch {
            reader.report(node, path, error.message)
            return nil
        }
        switch (family, range.family) {
        case (.ipv4, .ipv6):
            reader.report(node, path, "\(range) is an IPv6 range; virtualIPs takes an IPv4 range, IPv6 goes in virtualIPv6s")
            return nil
        case (.ipv6, .ipv4):
            reader.report(node, path, "\(range) is an IPv4 range; virtualIPv6s takes an IPv6 range, IPv4 goes in virtualIPs")
            return nil
        default:
            return range
        }
    }

    private enum AddressFamilyName { case ipv4, ipv6 }

    /// `upstream`: an IP address (port 53) or `IP:PORT`, or else the path of a resolv.conf
    /// file whose first nameserver is used. Absent: `/etc/resolv.conf`. With the upstream,
    /// the resolv.conf as the messages name it (nil for an address).
    private static func upstream(_ node: Node?, _ path: FieldPath, mark: Mark?, file: ConfigFile, reader: NodeReader)
        -> (upstream: DNSUpstream, resolvConf: String?)? {
        var text = DNSConfig.defaultUpstreamFile
        if let node {
            guard let written = reader.string(node, path) else { return nil }
            text = written
            if let address = SocketAddressSpec(written) ?? SocketAddressSpec(written.contains(":") ? "[\(written)]:53" : "\(written):53") {
                guard address.port != 0 else {
                    reader.report(node, path, "the upstream resolver needs a port other than 0")
                    return nil
                }
                return (DNSUpstream(address: address, resolvConf: nil), nil)
            }
            if written.isEmpty || written.first?.isNumber == true && !written.contains("/") {
                reader.report(node, path, "\"\(written)\" is neither an IP address (with an optional port) nor the path of a resolv.conf file")
                return nil
            }
        }
        let target = file.resolve(text)
        switch ResolvConf.firstNameserver(path: target.absolute, display: target.display) {
        case .success(let address):
            return (DNSUpstream(address: address, resolvConf: target.absolute), target.display)
        case .failure(let problem):
            let hint = node == nil ? " (spec.dns.upstream defaults to \(DNSConfig.defaultUpstreamFile); set it to a resolver's address)" : ""
            if let node { reader.report(node, path, problem.message + hint) } else { reader.report(at: mark, path, problem.message + hint) }
            return nil
        }
    }
}
