import Foundation

/// Why an outbound URL was refused. `message` names the URL's host, never its path or query.
public enum OutboundPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL
    case schemeNotAllowed(scheme: String, host: String)
    case httpsRequired(host: String)
    case unresolvable(host: String)
    case blockedAddress(host: String, address: String, reason: String)
    /// A numeric host that is not a canonical dotted quad (`012.0.0.1`, `0x7f.0.0.1`, `2130706433`, `127.1`):
    /// resolvers read such hosts in different ways, so none is called.
    case nonCanonicalAddress(host: String)
    /// The outbound allow-list lists neither the name nor a range holding the address literal.
    case notAllowlisted(host: String)
    /// The host is listed, but it resolved to an address outside every listed range.
    case addressNotAllowlisted(host: String, address: String)
    /// The name look-up did not finish before the call's deadline.
    case resolutionTimedOut(host: String)

    public var message: String {
        switch self {
        case .invalidURL:
            "The URL is not an absolute http(s) URL"
        case .schemeNotAllowed(let scheme, let host):
            "The URL for \(host) uses \(scheme), only http(s) is allowed"
        case .httpsRequired(let host):
            "The URL for \(host) must use https"
        case .unresolvable(let host):
            "The host \(host) could not be resolved"
        case .blockedAddress(let host, let address, let reason):
            "The host \(host) resolves to \(address), a \(reason) address, which integrations may not call"
        case .nonCanonicalAddress(let host):
            "The host \(host) is not a valid address; write IPv4 addresses as four decimal numbers like 192.0.2.10"
        case .notAllowlisted(let host):
            "The host \(host) is not on the outbound allow-list (MOEEN_OUTBOUND_ALLOWLIST)"
        case .addressNotAllowlisted(let host, let address):
            "The host \(host) resolves to \(address), outside the outbound allow-list (MOEEN_OUTBOUND_ALLOWLIST)"
        case .resolutionTimedOut(let host):
            "Looking up the host \(host) did not finish in time"
        }
    }

    public var description: String { message }
}

/// A URL the policy accepted, with the address its connection must go to.
///
/// The transport connects to `address` (see `OutboundRequest.connectAddress`) while the request keeps
/// `host` for the `Host` header and TLS name checks, so a DNS answer that changes between the check and
/// the connection (DNS rebinding) cannot redirect the call.
public struct ApprovedTarget: Sendable, Equatable {
    /// `http` or `https`.
    public let scheme: String
    /// The URL's host, lower-cased, without IPv6 brackets.
    public let host: String
    /// The URL's port, or the scheme's default.
    public let port: Int
    /// Every address the host resolved to (all passed the check); the literal itself for an address host.
    public let addresses: [IPAddress]

    /// The address to connect to: the first one resolved.
    public var address: IPAddress { addresses[0] }
    /// Whether the URL's host is an address literal (no name was resolved).
    public var isAddressLiteral: Bool { IPAddress(host) != nil }
}

/// Which outbound URLs integrations may call (ARCHITECTURE.md, "Outbound safety").
///
/// - `requireHTTPS`: only https, except http to a loopback address when private targets are allowed.
/// - `allowPrivateTargets`: let URLs reach loopback, private (10/8, 172.16/12, 192.168/16,
///   100.64/10, fc00::/7), reserved (198.18/15, 240/4…) and link-local (169.254/16, fe80::/10)
///   addresses — tests and the sandbox.
/// - `allowlist`: when set, only its names and ranges (see `OutboundAllowlist` for the exact rule);
///   checked before any look-up.
/// - `resolver`: turns host names into addresses (`SystemHostResolver` unless a test injects one).
///
/// Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, `metadata.google.internal`),
/// unspecified (0.0.0.0, ::), multicast and broadcast addresses are refused always, and so are numeric
/// hosts that are not canonical dotted quads. IPv4 addresses embedded in IPv6 (mapped, NAT64 64:ff9b::/96,
/// 6to4 2002::/16) are judged as the IPv4 address they lead to.
public struct OutboundTargetPolicy: Sendable {
    public var allowPrivateTargets: Bool
    public var requireHTTPS: Bool
    public var allowlist: OutboundAllowlist?
    public var resolver: any HostResolver

    public init(
        allowPrivateTargets: Bool = false,
        requireHTTPS: Bool = true,
        allowlist: OutboundAllowlist? = nil,
        resolver: any HostResolver = SystemHostResolver()
    ) {
        self.allowPrivateTargets = allowPrivateTargets
        self.requireHTTPS = requireHTTPS
        self.allowlist = allowlist
        self.resolver = resolver
    }

    /// Production: https only, public addresses only.
    public static let strict = OutboundTargetPolicy(allowPrivateTargets: false, requireHTTPS: true)
    /// Tests and the sandbox: private and loopback targets allowed, http to loopback allowed.
    public static let local = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: true)

    /// How long a look-up may take when the caller gives no deadline.
    public static let defaultResolutionTimeout: Duration = .seconds(15)

    /// Throws when `url` may not be called. Resolves the host name once and checks every address.
    public func check(_ url: String) async throws(OutboundPolicyError) {
        _ = try await approve(url)
    }

    /// Checks `url` and returns the target with the addresses that passed, so the caller can connect to
    /// exactly those (`OutboundRequest.connectAddress`). The host is resolved once, and only after the
    /// scheme, the host's form and the allow-list passed; the look-up is abandoned at `deadline`.
    public func approve(
        _ url: String, deadline: ContinuousClock.Instant? = nil
    ) async throws(OutboundPolicyError) -> ApprovedTarget {
        guard let components = URLComponents(string: url),
              let rawScheme = components.scheme, let rawHost = components.host, !rawHost.isEmpty,
              !Self.hasEncodedName(components)
        else { throw .invalidURL }
        let scheme = rawScheme.lowercased()
        let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard scheme == "http" || scheme == "https" else {
            throw .schemeNotAllowed(scheme: scheme, host: host)
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let nameForLookup = host.hasSuffix(".") ? String(host.dropLast()) : host
        if Self.metadataHostNames.contains(nameForLookup) {
            throw .blockedAddress(host: host, address: host, reason: "cloud metadata")
        }
        let literal = IPAddress(host)
        if literal == nil, IPAddress.isNonCanonicalNumericHost(host) {
            throw .nonCanonicalAddress(host: host)
        }
        if let allowlist, !allowlist.permitsHost(host) {
            throw .notAllowlisted(host: host)
        }

        let addresses: [IPAddress]
        if let literal {
            addresses = [literal]
        } else {
            let until = deadline ?? ContinuousClock.now + Self.defaultResolutionTimeout
            guard let resolved = await resolver.addresses(of: host, before: until) else {
                throw .resolutionTimedOut(host: host)
            }
            addresses = resolved
        }
        guard !addresses.isEmpty else { throw .unresolvable(host: host) }

        var allLoopback = true
        for address in addresses {
            let range = address.classification
            if range != .loopback { allLoopback = false }
            switch range {
            case .public:
                break
            case .metadata, .unspecified, .multicast:
                throw .blockedAddress(host: host, address: address.description, reason: range.rawValue)
            case .loopback, .privateNetwork, .linkLocal, .reserved:
                if !allowPrivateTargets {
                    throw .blockedAddress(host: host, address: address.description, reason: range.rawValue)
                }
            }
            if literal == nil, let allowlist, !allowlist.permitsResolvedAddress(address) {
                throw .addressNotAllowlisted(host: host, address: address.description)
            }
        }
        if scheme == "http", requireHTTPS, !(allowPrivateTargets && allLoopback) {
            throw .httpsRequired(host: host)
        }
        return ApprovedTarget(scheme: scheme, host: host, port: port, addresses: addresses)
    }

    /// Whether the URL spells its host name with percent-escapes: libraries disagree on decoding them,
    /// so such a URL could be checked under one name and connected under another.
    static func hasEncodedName(_ components: URLComponents) -> Bool {
        guard let encoded = components.percentEncodedHost else { return false }
        return encoded.contains("%") && !encoded.hasPrefix("[")
    }

    static let metadataHostNames: Set<String> = ["metadata.google.internal", "metadata.goog", "metadata"]
}
