import Foundation

/// `MOEEN_OUTBOUND_ALLOWLIST`: the only targets outbound calls (connectors and key providers) may reach.
///
/// The rule, applied to a URL's host (lower-cased, IPv6 brackets removed):
/// 1. A host that is an address literal passes when the address lies inside a listed range.
/// 2. A host that is a listed name (exact match, case-insensitive; no wildcards, no trailing-dot
///    variants) passes the name check. Any other host is refused before any DNS look-up or connection.
///    Numeric hosts that are not canonical dotted quads (`012.0.0.1`, `0x7f.0.0.1`, `127.1`) are never
///    listed names and never literals, so they are always refused.
/// 3. When at least one range is listed, every address a listed name resolves to (or the address its
///    connection is pinned to) must also lie inside a listed range; when only names are listed, a listed
///    name is trusted whatever it resolves to.
///
/// `OutboundTargetPolicy` applies the rule before resolving a connector's URL, and `AllowlistedTransport`
/// applies it again to every request that reaches the network, so key providers cannot bypass it.
public struct OutboundAllowlist: Sendable, Hashable, CustomStringConvertible {
    public let hostNames: Set<String>
    public let networks: [IPNetwork]

    public init(hostNames: Set<String>, networks: [IPNetwork]) {
        self.hostNames = Set(hostNames.map { $0.lowercased() })
        self.networks = networks
    }

    /// Parses `127.0.0.0/8,::1,localhost`; `nil` when an entry is neither a range nor a host name.
    public init?(_ text: String) {
        var names: Set<String> = []
        var networks: [IPNetwork] = []
        for raw in text.split(separator: ",") {
            let item = raw.trimmingCharacters(in: .whitespaces).lowercased()
            guard !item.isEmpty else { continue }
            if let network = IPNetwork(item) {
                networks.append(network)
            } else if Self.isHostName(item) {
                names.insert(item)
            } else {
                return nil
            }
        }
        guard !names.isEmpty || !networks.isEmpty else { return nil }
        self.init(hostNames: names, networks: networks)
    }

    /// Loopback only (`127.0.0.0/8,::1,localhost`): what tests, CI, benchmarks and drills use.
    public static let loopback = OutboundAllowlist(
        hostNames: ["localhost"],
        networks: [
            IPNetwork(trusted: .v4([127, 0, 0, 0]), prefixLength: 8),
            IPNetwork(trusted: .v6(Array(repeating: 0, count: 15) + [1]), prefixLength: 128),
        ])

    /// Whether `host` (lower-cased, no brackets) is listed by name, or is an address literal in a range
    /// (rules 1 and 2).
    public func permitsHost(_ host: String) -> Bool {
        let host = host.lowercased()
        if let literal = IPAddress(host) { return permits(literal) }
        if IPAddress.isNonCanonicalNumericHost(host) { return false }
        return hostNames.contains(host)
    }

    /// Whether a resolved (or pinned) address of a listed name may be used (rule 3).
    public func permitsResolvedAddress(_ address: IPAddress) -> Bool {
        networks.isEmpty || permits(address)
    }

    /// Whether a listed name's addresses are checked against the ranges (rule 3): some range is listed.
    public var checksResolvedAddresses: Bool { !networks.isEmpty }

    /// Whether an address is inside a listed range.
    public func permits(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    static func isHostName(_ text: String) -> Bool {
        guard text.count <= 253, !IPAddress.isNonCanonicalNumericHost(text) else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        } && !labels.allSatisfy { $0.allSatisfy(\.isASCIIDigit) }
    }

    public var description: String {
        (hostNames.sorted() + networks.map(\.description)).joined(separator: ",")
    }
}
