import Crypto
import Foundation

/// Google access tokens per integration (keyed by a hash of token URL, client id and refresh
/// token), kept until 60 s before they expire; at most one refresh in flight per key.
actor GoogleTokenCache {
    struct Grant: Sendable {
        let accessToken: String
        let expiresAt: Date
    }

    /// A fetch's outcome plus the exchange it recorded (only the caller that started it logs it).
    typealias FetchOutcome = (result: Result<Grant, ProviderError>, exchanges: [RecordedExchange])

    private var grants: [String: Grant] = [:]
    private var inFlight: [String: Task<FetchOutcome, Never>] = [:]
    /// Tokens are considered expired this long before Google's expiry.
    static let margin: TimeInterval = 60

    static func key(tokenURL: String, clientID: String, refreshToken: String) -> String {
        let digest = SHA256.hash(data: Data("\(tokenURL)\n\(clientID)\n\(refreshToken)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// A valid cached token, or the result of `fetch` (shared with concurrent callers).
    /// Returns the exchanges of the fetch only to the caller that started it.
    func token(key: String, now: Date, fetch: @escaping @Sendable () async -> FetchOutcome)
        async -> (result: Result<Grant, ProviderError>, exchanges: [RecordedExchange])
    {
        if let grant = grants[key], grant.expiresAt.timeIntervalSince(now) > Self.margin {
            return (.success(grant), [])
        }
        if let running = inFlight[key] {
            return (await running.value.result, [])
        }
        let task = Task { await fetch() }
        inFlight[key] = task
        let outcome = await task.value
        inFlight[key] = nil
        if case .success(let grant) = outcome.result { grants[key] = grant }
        return outcome
    }

    /// Forgets the cached token (after the API refused it).
    func invalidate(key: String, token: String) {
        if grants[key]?.accessToken == token { grants[key] = nil }
    }
}
