import Foundation
import Logging
@testable import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// Which cached Google access token may be reused, and how many are kept.
@Suite("Google token cache")
struct GoogleTokenCacheTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A transport that issues `token-1`, `token-2`… from any `/token` URL and answers every API call
    /// with an owner's calendar entry. No socket is opened.
    static func fakeGoogle() -> RecordingTransport {
        let issued = Counter()
        return RecordingTransport { request throws(TransportError) in
            if request.url.hasSuffix("/token") {
                let body = #"{"access_token":"token-\#(issued.next())","expires_in":3600}"#
                return InboundResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
            }
            let body = #"{"id":"primary","summary":"Clinic","accessRole":"owner"}"#
            return InboundResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        }
    }

    @Test("a token is not reused for another API URL")
    func keyIncludesAPIURL() async throws {
        let transport = Self.fakeGoogle()
        var logger = Logger(label: "moeen.connectors.tests")
        logger.logLevel = .warning
        let registry = ConnectorRegistry(transport: transport, policy: .local, logger: logger)
        var settings = GoogleCalendarStandIn().workingSettings(baseURL: try #require(URL(string: "http://127.0.0.1:9")))
        let first = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
        #expect(first.success, "\(first.message)")
        settings["api_url"] = "http://127.0.0.2:9/calendar/v3"
        let second = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
        #expect(second.success, "\(second.message)")

        let requests = transport.requests
        #expect(requests.filter { $0.url.hasSuffix("/token") }.count == 2)
        let overridden = requests.filter { $0.url.hasPrefix("http://127.0.0.2:9/") }
        #expect(overridden.count == 1)
        #expect(overridden.first?.header("Authorization") == "Bearer token-2")

        // The same settings again reuse their own token.
        _ = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
        #expect(transport.requests.filter { $0.url.hasSuffix("/token") }.count == 2)
    }

    @Test("every part of the key matters")
    func keyParts() {
        let base = GoogleTokenCache.key(tokenURL: "t", apiURL: "a", clientID: "c", refreshToken: "r")
        #expect(base != GoogleTokenCache.key(tokenURL: "t", apiURL: "a2", clientID: "c", refreshToken: "r"))
        #expect(base != GoogleTokenCache.key(tokenURL: "t2", apiURL: "a", clientID: "c", refreshToken: "r"))
        #expect(base != GoogleTokenCache.key(tokenURL: "t", apiURL: "a", clientID: "c2", refreshToken: "r"))
        #expect(base != GoogleTokenCache.key(tokenURL: "t", apiURL: "a", clientID: "c", refreshToken: "r2"))
        #expect(GoogleTokenCache.key(tokenURL: "t\n", apiURL: "a", clientID: "c", refreshToken: "r")
            != GoogleTokenCache.key(tokenURL: "t", apiURL: "\na", clientID: "c", refreshToken: "r"))
        #expect(!base.contains("r"), "the key is a hash, not the refresh token")
    }

    static func fetch(_ token: String, expiresIn: TimeInterval, counter: Counter? = nil)
        -> @Sendable () async -> GoogleTokenCache.FetchOutcome
    {
        { () async -> GoogleTokenCache.FetchOutcome in
            _ = counter?.next()
            return (.success(.init(accessToken: token, expiresAt: now.addingTimeInterval(expiresIn))), [])
        }
    }

    @Test("the cache keeps at most its limit, evicting the oldest")
    func boundedOldestEvicted() async throws {
        let cache = GoogleTokenCache(limit: 2)
        let fetches = Counter()
        for key in ["a", "b", "c"] {
            _ = await cache.token(key: key, now: Self.now, fetch: Self.fetch("tok-\(key)", expiresIn: 3600, counter: fetches))
        }
        #expect(await cache.count == 2)
        #expect(fetches.value == 3)
        // b and c are still cached; a was evicted and is fetched again.
        _ = await cache.token(key: "b", now: Self.now, fetch: Self.fetch("x", expiresIn: 3600, counter: fetches))
        _ = await cache.token(key: "c", now: Self.now, fetch: Self.fetch("x", expiresIn: 3600, counter: fetches))
        #expect(fetches.value == 3)
        let again = await cache.token(key: "a", now: Self.now, fetch: Self.fetch("tok-a2", expiresIn: 3600, counter: fetches))
        #expect(try again.result.get().accessToken == "tok-a2")
        #expect(fetches.value == 4)
        #expect(await cache.count == 2)
    }

    @Test("expired grants are dropped when another is stored")
    func expiredPruned() async {
        let cache = GoogleTokenCache(limit: 10)
        _ = await cache.token(key: "short", now: Self.now, fetch: Self.fetch("s", expiresIn: 30))
        _ = await cache.token(key: "long", now: Self.now, fetch: Self.fetch("l", expiresIn: 3600))
        #expect(await cache.count == 1, "a grant inside the 60 s margin is already expired")
        _ = await cache.token(key: "later", now: Self.now.addingTimeInterval(4000), fetch: Self.fetch("z", expiresIn: 3600))
        #expect(await cache.count == 1)
        #expect(GoogleTokenCache.defaultLimit == 1_000)
    }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    // @unchecked: `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
