import Foundation
import NIOConcurrencyHelpers
import Vapor

/// Recently checked API tokens, so a burst of calls with one token costs one database look-up rather than
/// two per call (the token row and its user).
///
/// An entry lives `lifetime` (5 s): a token deleted, expired or whose user was deactivated or changed role
/// stops working within that time on every process; in this process, changing a user clears its entries
/// at once (`forget(userID:)`). At most `capacity` entries are kept (the cache is emptied when full, which
/// costs only look-ups). Keys are the tokens' SHA-256 hashes, never the tokens.
final class TokenLookupCache: Sendable {
    struct Entry: Sendable {
        let user: AuthenticatedUser
        let tokenExpiresAt: Date?
        let cachedAt: Date
    }

    let lifetime: TimeInterval
    let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(lifetime: TimeInterval = 5, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The user of the token with this hash, when it was checked less than `lifetime` ago and is still valid.
    func user(forHash hash: String, now: Date) -> AuthenticatedUser? {
        entries.withLockedValue { entries in
            guard let entry = entries[hash] else { return nil }
            let expired = entry.tokenExpiresAt.map { $0 <= now } ?? false
            guard !expired, now.timeIntervalSince(entry.cachedAt) < lifetime else {
                entries[hash] = nil
                return nil
            }
            return entry.user
        }
    }

    func remember(hash: String, user: AuthenticatedUser, tokenExpiresAt: Date?, now: Date) {
        entries.withLockedValue { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(user: user, tokenExpiresAt: tokenExpiresAt, cachedAt: now)
        }
    }

    /// Drops every entry of this user (after a change of role or a deactivation).
    func forget(userID: UUID) {
        entries.withLockedValue { entries in
            entries = entries.filter { $0.value.user.id != userID }
        }
    }
}

extension Application {
    private struct TokenLookupCacheKey: StorageKey {
        typealias Value = TokenLookupCache
    }

    /// Set by `routes`; a bare application gets a fresh one.
    var tokenLookupCache: TokenLookupCache {
        get { storage[TokenLookupCacheKey.self] ?? TokenLookupCache(lifetime: 0) }
        set { storage[TokenLookupCacheKey.self] = newValue }
    }
}
