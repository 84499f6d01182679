import AsyncHTTPClient
import NIOCore

/// AsyncHTTPClient clients that each connect one host name to one fixed address (`dnsOverride`), for
/// `AsyncHTTPClientTransport`. AsyncHTTPClient has no per-request resolver, so pinning a request to the
/// address the outbound policy approved needs a client per (host, address).
///
/// At most `limit` clients are kept: beyond that, the least recently used idle ones are handed back to
/// be shut down (a client with requests in flight is never evicted, so the pool may briefly exceed the
/// limit under load). All clients share one event loop group and one configuration.
actor PinnedClientPool {
    struct Key: Hashable, Sendable {
        /// The host as AsyncHTTPClient reads it from the URL (`URL.host`, no IPv6 brackets).
        let host: String
        let address: IPAddress
    }

    /// A checked-out client, plus evicted clients the caller must shut down.
    struct Lease: Sendable {
        let client: HTTPClient
        let evicted: [HTTPClient]
    }

    private struct Entry {
        let client: HTTPClient
        var inFlight: Int
        var lastUsed: UInt64
    }

    let eventLoopGroup: any EventLoopGroup
    let configuration: HTTPClient.Configuration
    let limit: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    private var isShutDown = false

    init(eventLoopGroup: any EventLoopGroup, configuration: HTTPClient.Configuration, limit: Int) {
        self.eventLoopGroup = eventLoopGroup
        self.configuration = configuration
        self.limit = max(1, limit)
    }

    deinit {
        // Clients must be shut down before they are released; a transport dropped without `shutdown()`
        // still lets its clients close in the background.
        for entry in entries.values {
            entry.client.shutdown { _ in }
        }
    }

    var count: Int { entries.count }

    /// The client for `key` (created if needed), counted as in use until `checkIn`; `nil` once shut down.
    func checkOut(_ key: Key) -> Lease? {
        guard !isShutDown else { return nil }
        clock += 1
        if var entry = entries[key] {
            entry.inFlight += 1
            entry.lastUsed = clock
            entries[key] = entry
            return Lease(client: entry.client, evicted: [])
        }
        var configuration = configuration
        configuration.dnsOverride = [key.host: key.address.description]
        // Also under the bracketed spelling AsyncHTTPClient uses for IPv6-looking hosts.
        configuration.dnsOverride["[\(key.host)]"] = key.address.description
        let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
        entries[key] = Entry(client: client, inFlight: 1, lastUsed: clock)
        return Lease(client: client, evicted: evictIdle())
    }

    /// Marks one request on `key` finished; returns clients evicted meanwhile, to shut down.
    func checkIn(_ key: Key) -> [HTTPClient] {
        guard var entry = entries[key] else { return [] }
        entry.inFlight = max(0, entry.inFlight - 1)
        entries[key] = entry
        return evictIdle()
    }

    /// Refuses further check-outs and returns every client, to shut down.
    func shutDown() -> [HTTPClient] {
        isShutDown = true
        let clients = entries.values.map(\.client)
        entries = [:]
        return clients
    }

    /// Removes least recently used idle clients until at most `limit` remain (or none is idle).
    private func evictIdle() -> [HTTPClient] {
        var evicted: [HTTPClient] = []
        while entries.count > limit {
            guard let victim = entries.filter({ $0.value.inFlight == 0 }).min(by: { $0.value.lastUsed < $1.value.lastUsed })
            else { break }
            entries[victim.key] = nil
            evicted.append(victim.value.client)
        }
        return evicted
    }
}
