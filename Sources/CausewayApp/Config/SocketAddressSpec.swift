import CausewayMesh

/// An IP address and port to listen on, as written in config: `127.0.0.1:15001`,
/// `[::1]:15001`, `0.0.0.0:15443`.
///
/// The host must be an IP literal, never a name: resolving names at bind time would make
/// startup depend on DNS. Port 0 means "any free port", which tests use.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    /// Canonical IP literal without brackets (`127.0.0.1`, `::1`), ready for `inet_pton`.
    public let host: String
    /// TCP port, 0...65535; 0 lets the kernel choose.
    public let port: UInt16

    /// Why a text is not a socket address; `message` is a sentence fit for a `ConfigProblem`.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What is wrong with the text.
        public let message: String
        /// Same as `message`.
        public var description: String { message }
    }

    /// True for 127.0.0.0/8 and ::1 (and ::ffff:127.0.0.0/104): only this host can connect.
    public var isLoopback: Bool {
        host.hasPrefix("127.") || host == "::1" || host.lowercased().hasPrefix("::ffff:127.")
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`.
    public init(parsing text: String) throws(ParseError) {
        let ip: IPAddress
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(message: "\"\(text)\" has no closing \"]\"")
            }
            let hostText = text[text.index(after: text.startIndex)..<close]
            guard let parsed = IPAddress(String(hostText)), parsed.family == .ipv6 else {
                throw ParseError(message: "\"\(hostText)\" in \"\(text)\" is not an IPv6 address")
            }
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else {
                throw ParseError(message: "\"\(text)\" needs a port, e.g. \"[\(hostText)]:15001\"")
            }
            ip = parsed
            portText = rest.dropFirst()
        } else {
            if text.filter({ $0 == ":" }).count > 1 {
                throw ParseError(message: "IPv6 addresses need brackets, e.g. \"[::1]:15001\"; got \"\(text)\"")
            }
            guard let colon = text.firstIndex(of: ":") else {
                throw ParseError(message: "\"\(text)\" needs a port, e.g. \"\(text):15001\"")
            }
            let hostText = text[..<colon]
            guard let parsed = IPAddress(String(hostText)) else {
                throw ParseError(
                    message: "host \"\(hostText)\" in \"\(text)\" must be an IP address such as 127.0.0.1, not a name")
            }
            ip = parsed
            portText = text[text.index(after: colon)...]
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(portText)
        else {
            throw ParseError(message: "port \"\(portText)\" in \"\(text)\" must be a number from 0 to 65535")
        }
        self.host = ip.description
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`; nil if `text` is not one.
    public init?(_ text: String) {
        guard let parsed = try? SocketAddressSpec(parsing: text) else { return nil }
        self = parsed
    }

    /// `127.0.0.1:15001`, or `[::1]:15001` for IPv6.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
