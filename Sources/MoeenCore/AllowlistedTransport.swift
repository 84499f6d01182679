import Foundation

/// An `HTTPTransport` that lets a request through only when `OutboundAllowlist` permits its target,
/// so every outbound caller (connectors, key providers) is held to `MOEEN_OUTBOUND_ALLOWLIST`.
///
/// - A host that is neither a listed name nor an address literal in a listed range is refused before
///   any look-up: nothing is resolved, nothing is sent.
/// - A listed name, when ranges are listed, must connect to an address inside them: a request that
///   carries a `connectAddress` (connectors, already checked by `OutboundTargetPolicy`) is judged by
///   it; otherwise the name is resolved once, within the request's timeout, every address must be in
///   range, and the request is pinned to the first so the inner transport cannot resolve elsewhere.
public struct AllowlistedTransport: HTTPTransport {
    public let inner: any HTTPTransport
    public let allowlist: OutboundAllowlist
    public let resolver: any HostResolver

    public init(_ inner: any HTTPTransport, allowlist: OutboundAllowlist,
                resolver: any HostResolver = SystemHostResolver()) {
        self.inner = inner
        self.allowlist = allowlist
        self.resolver = resolver
    }

    public func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
        var request = request
        guard let components = URLComponents(string: request.url), let rawHost = components.host, !rawHost.isEmpty,
              !OutboundTargetPolicy.hasEncodedName(components)
        else { throw .invalidURL(Redactor.endpoint(of: request.url)) }
        let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard allowlist.permitsHost(host) else {
            throw .notAllowed(host: host, reason: "the host is not on the outbound allow-list (MOEEN_OUTBOUND_ALLOWLIST)")
        }
        if IPAddress(host) != nil || !allowlist.checksResolvedAddresses {
            return try await inner.send(request)
        }
        if let pinned = request.connectAddress {
            guard allowlist.permits(pinned) else { throw Self.outsideRanges(host: host, address: pinned) }
            return try await inner.send(request)
        }
        let started = ContinuousClock.now
        guard let addresses = await resolver.addresses(of: host, before: started + request.timeout) else {
            throw .timedOut
        }
        guard let first = addresses.first else { throw .connectFailed("the host \(host) could not be resolved") }
        if let outside = addresses.first(where: { !allowlist.permits($0) }) {
            throw Self.outsideRanges(host: host, address: outside)
        }
        request.connectAddress = first
        request.timeout -= ContinuousClock.now - started
        guard request.timeout > .zero else { throw .timedOut }
        return try await inner.send(request)
    }

    static func outsideRanges(host: String, address: IPAddress) -> TransportError {
        .notAllowed(host: host, reason: "it resolves to \(address), outside the outbound allow-list (MOEEN_OUTBOUND_ALLOWLIST)")
    }
}
