import Crypto
import Foundation
import MoeenCore

/// Google access tokens per grant, kept until 60 s before they expire; at most one refresh in flight
/// per key.
///
/// A key is a hash of everything that decides where a token comes from and where it is sent: token URL,
/// API URL, client id and refresh token. So a token is never reused for another API URL (an overridden
/// `api_url` gets its own token) nor for another client or grant.
/// At most `limit` grants are kept: expired ones are dropped whenever one is stored, and beyond the
/// limit the oldest stored is evicted.
actor GoogleTokenCache {
    struct Grant: Sendable {
        let accessToken: String
        let expiresAt: Date
    }

    /// A fetch's outcome plus the exchange it recorded (only the caller that started it logs it).
    typealias FetchOutcome = (result: Result<Grant, ProviderError>, exchanges: [RecordedExchange])

    private struct Stored {
        let grant: Grant
        /// When it was stored, in store order (smaller is older).
        let order: UInt64
    }

    private var grants: [String: Stored] = [:]
    private var inFlight: [String: Task<FetchOutcome, Never>] = [:]
    private var storeCount: UInt64 = 0
    /// The most grants kept at once.
    let limit: Int
    /// Tokens are considered expired this long before Google's expiry.
    static let margin: TimeInterval = 60
    static let defaultLimit = 1_000

    init(limit: Int = GoogleTokenCache.defaultLimit) {
        self.limit = max(1, limit)
    }

    /// The cache key of one grant used against one API (a SHA-256, so no secret is kept as a key).
    static func key(tokenURL: String, apiURL: String, clientID: String, refreshToken: String) -> String {
        // Length-prefixed fields: no two different tuples give the same text.
        let text = [tokenURL, apiURL, clientID, refreshToken].map { "\($0.utf8.count):\($0)" }.joined(separator: "\n")
        let digest = SHA256.hash(data: Data(text.utf8))
        return Hex.encode(digest)
    }

    /// How many grants are kept now.
    var count: Int { grants.count }

    /// A valid cached token, or the result of `fetch` (shared with concurrent callers).
    /// Returns the exchanges of the fetch only to the caller that started it.
    func token(key: String, now: Date, fetch: @escaping @Sendable () async -> FetchOutcome)
        async -> (result: Result<Grant, ProviderError>, exchanges: [RecordedExchange])
    {
        if let stored = grants[key], Self.isUsable(stored.grant, at: now) {
            return (.success(stored.grant), [])
        }
        if let running = inFlight[key] {
            return (await running.value.result, [])
        }
        let task = Task { await fetch() }
        inFlight[key] = task
        let outcome = await task.value
        inFlight[key] = nil
        if case .success(let grant) = outcome.result { store(grant, key: key, now: now) }
        return outcome
    }

    /// Forgets the cached token (after the API refused it).
    func invalidate(key: String, token: String) {
        if grants[key]?.grant.accessToken == token { grants[key] = nil }
    }

    private static func isUsable(_ grant: Grant, at now: Date) -> Bool {
        grant.expiresAt.timeIntervalSince(now) > margin
    }

    /// Keeps `grant`, dropping expired grants and then the oldest ones beyond `limit`.
    private func store(_ grant: Grant, key: String, now: Date) {
        storeCount += 1
        grants[key] = Stored(grant: grant, order: storeCount)
        grants = grants.filter { $0.key == key || Self.isUsable($0.value.grant, at: now) }
        while grants.count > limit, let oldest = grants.filter({ $0.key != key }).min(by: { $0.value.order < $1.value.order }) {
            grants[oldest.key] = nil
        }
    }
}
