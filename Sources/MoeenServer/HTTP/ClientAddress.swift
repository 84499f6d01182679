import MoeenCore
import Vapor

/// The address of the client behind a request, for rate limits and records.
///
/// `X-Forwarded-For` is believed only as far as trusted proxies wrote it: when the direct peer lies in
/// `MOEEN_TRUSTED_PROXIES`, the header is read from the right (each proxy appends the address it saw),
/// skipping addresses that are trusted proxies themselves; the first one that is not is the client. Entries
/// further left were written by the client and are never used. Without a trusted peer the header is ignored.
enum ClientAddress {
    /// - Parameters:
    ///   - peer: the address of the direct connection (`nil` when unknown).
    ///   - forwardedFor: every `X-Forwarded-For` header value, in order.
    ///   - trustedProxies: the ranges whose forwarding is believed.
    static func resolve(peer: String?, forwardedFor: [String], trustedProxies: [IPNetwork]) -> String? {
        guard let peer, let peerAddress = IPAddress(peer) else { return peer }
        guard isTrusted(peerAddress, trustedProxies) else { return peerAddress.description }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var client = peerAddress
        for hop in hops.reversed() {
            // What a trusted proxy wrote that is not an address ("unknown", garbage) ends the walk at the
            // last address known: the proxy that wrote it.
            guard let address = IPAddress(stripPort(hop)) else { break }
            client = address
            guard isTrusted(address, trustedProxies) else { break }
        }
        return client.description
    }

    static func isTrusted(_ address: IPAddress, _ trustedProxies: [IPNetwork]) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// `203.0.113.5:4711` → `203.0.113.5`; `[2001:db8::1]:443` → `2001:db8::1`; anything else unchanged.
    static func stripPort(_ hop: String) -> String {
        if hop.hasPrefix("["), let close = hop.firstIndex(of: "]") {
            return String(hop[hop.index(after: hop.startIndex)..<close])
        }
        let colons = hop.filter { $0 == ":" }.count
        if colons == 1, let colon = hop.firstIndex(of: ":") {
            return String(hop[..<colon])
        }
        return hop
    }
}

extension Request {
    /// The client's address (see `ClientAddress`); `nil` when the connection's peer is unknown.
    var clientAddress: String? {
        ClientAddress.resolve(
            peer: remoteAddress?.ipAddress,
            forwardedFor: headers[.xForwardedFor],
            trustedProxies: moeenConfiguration.trustedProxies
        )
    }
}
