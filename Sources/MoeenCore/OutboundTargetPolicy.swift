import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an outbound URL was refused. `message` names the URL's host, never its path or query.
public enum OutboundPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL
    case schemeNotAllowed(scheme: String, host: String)
    case httpsRequired(host: String)
    case unresolvable(host: String)
    case blockedAddress(host: String, address: String, reason: String)

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
        }
    }

    public var description: String { message }
}

/// Which outbound URLs integrations may call (ARCHITECTURE.md, "Outbound safety").
///
/// - `requireHTTPS`: only https, except http to a loopback address when private targets are allowed.
/// - `allowPrivateTargets`: let URLs reach loopback, private (10/8, 172.16/12, 192.168/16,
///   100.64/10, fc00::/7) and link-local (169.254/16, fe80::/10) addresses — tests and the sandbox.
/// Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, `metadata.google.internal`),
/// unspecified (0.0.0.0, ::), multicast and broadcast addresses are refused always.
public struct OutboundTargetPolicy: Sendable, Equatable {
    public var allowPrivateTargets: Bool
    public var requireHTTPS: Bool

    public init(allowPrivateTargets: Bool = false, requireHTTPS: Bool = true) {
        self.allowPrivateTargets = allowPrivateTargets
        self.requireHTTPS = requireHTTPS
    }

    /// Production: https only, public addresses only.
    public static let strict = OutboundTargetPolicy(allowPrivateTargets: false, requireHTTPS: true)
    /// Tests and the sandbox: private and loopback targets allowed, http to loopback allowed.
    public static let local = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: true)

    /// Throws when `url` may not be called. Resolves the host name (getaddrinfo) and checks
    /// every address it resolves to.
    public func check(_ url: String) async throws(OutboundPolicyError) {
        guard let components = URLComponents(string: url),
              let rawScheme = components.scheme, let rawHost = components.host, !rawHost.isEmpty
        else { throw .invalidURL }
        let scheme = rawScheme.lowercased()
        let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard scheme == "http" || scheme == "https" else {
            throw .schemeNotAllowed(scheme: scheme, host: host)
        }
        if Self.metadataHostNames.contains(host) {
            throw .blockedAddress(host: host, address: host, reason: "cloud metadata")
        }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
        }
        guard !addresses.isEmpty else { throw .unresolvable(host: host) }

        var allLoopback = true
        for address in addresses {
            let range = address.classification
            if range != .loopback { allLoopback = false }
            switch range {
            case .public:
                continue
            case .metadata, .unspecified, .multicast:
                throw .blockedAddress(host: host, address: address.description, reason: range.rawValue)
            case .loopback, .privateNetwork, .linkLocal:
                if !allowPrivateTargets {
                    throw .blockedAddress(host: host, address: address.description, reason: range.rawValue)
                }
            }
        }
        if scheme == "http", requireHTTPS, !(allowPrivateTargets && allLoopback) {
            throw .httpsRequired(host: host)
        }
    }

    static let metadataHostNames: Set<String> = ["metadata.google.internal", "metadata.goog", "metadata"]

    /// All addresses `host` resolves to; empty when it does not resolve.
    static func resolve(_ host: String) async -> [IPAddress] {
        await Task.detached { getAddresses(host) }.value
    }

    private static func getAddresses(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sockaddr = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    let v4 = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    let bytes = withUnsafeBytes(of: v4) { Array($0) }
                    addresses.append(.v4(bytes))
                case AF_INET6:
                    let v6 = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    let bytes = withUnsafeBytes(of: v6) { Array($0) }
                    addresses.append(.v6(bytes))
                default:
                    break
                }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
