/// A `host:port` as the transfer flags give it: an IPv4 literal, a bracketed IPv6 literal
/// (`[::1]:7420`) or a name, and a numeric port.
public struct TCPEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The address or name, without brackets.
    public let host: String
    /// The port; 0 asks a listener for any free one.
    public let port: UInt16

    /// An endpoint from its parts.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`; nil when either part is missing or the port isn't a number
    /// in 0...65535. An empty host is refused: a listener binds only where it is told.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !portText.isEmpty, portText.allSatisfy({ $0 >= "0" && $0 <= "9" }), let port = UInt16(portText) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// `host:port`, with brackets around an IPv6 literal.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
