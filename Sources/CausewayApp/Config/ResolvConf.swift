import Foundation

/// Reads the first `nameserver` of a resolv.conf file (resolv.conf(5)): the resolver a
/// process on this host would ask first, and so the one the DNS server forwards to.
enum ResolvConf {
    /// Largest file read; a resolv.conf is a few lines.
    static let maxBytes = 65_536

    /// The first nameserver's address (port 53), or a sentence saying why there is none.
    static func firstNameserver(path: String, display: String) -> Result<SocketAddressSpec, ResolvConfProblem> {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .failure(ResolvConfProblem(message: FileKind.of(path) == .missing
                ? "file \(display) does not exist" : "file \(display) is not readable"))
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes)) ?? Data()
        return firstNameserver(in: String(decoding: data, as: UTF8.self), display: display)
    }

    /// The first `nameserver` line of `text`. Comments start with `#` or `;`.
    static func firstNameserver(in text: String, display: String) -> Result<SocketAddressSpec, ResolvConfProblem> {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.prefix { $0 != "#" && $0 != ";" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.first == "nameserver" else { continue }
            guard words.count >= 2 else {
                return .failure(ResolvConfProblem(message: "\(display): a nameserver line has no address"))
            }
            let host = String(words[1])
            let bracketed = host.contains(":") ? "[\(host)]:53" : "\(host):53"
            guard let address = SocketAddressSpec(bracketed) else {
                return .failure(ResolvConfProblem(message: "\(display): nameserver \"\(host)\" is not an IP address (scoped IPv6 addresses are not supported)"))
            }
            return .success(address)
        }
        return .failure(ResolvConfProblem(message: "\(display) names no nameserver"))
    }
}

/// Why a resolv.conf gave no upstream resolver.
struct ResolvConfProblem: Error, Equatable {
    let message: String
}
