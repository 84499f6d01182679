import Crypto
import Fluent
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// Sign-in throttling, kept in the database (`login_throttles`) so that every `moeen serve` process on it
/// shares one count: at most `perAddress.limit` attempts per client address and `perAccount.limit` per
/// e-mail address within a window; further attempts are refused (429) until the window is over.
///
/// An attempt is counted *before* its password is checked, by one atomic upsert that returns the new count
/// (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, on SQLite and PostgreSQL alike). However many attempts
/// arrive at once, in however many processes, no more than the limit get their password checked.
///
/// Windows are fixed: one starts at the first attempt after the previous one ended. A successful sign-in
/// clears its account's count (its owner has shown the password) and hands its own attempt back to the
/// address — it does not clear the address, or one working account would let an address keep guessing
/// others'. Keys are stored as SHA-256 hashes, never as the e-mail or client address itself.
struct LoginRateLimiter: Sendable {
    /// At most `limit` attempts per key within `window` seconds.
    struct Rule: Sendable {
        var limit: Int
        var window: TimeInterval
    }

    var perAddress = Rule(limit: 5, window: 15 * 60)
    var perAccount = Rule(limit: 10, window: 15 * 60)

    /// An attempt that was let through: what `succeeded` needs to settle it.
    struct Attempt: Sendable, Equatable {
        let addressKey: String
        let accountKey: String?
    }

    enum Decision: Sendable, Equatable {
        /// Check the password; report a success with `succeeded`.
        case allowed(Attempt)
        /// Too many attempts: try again after this many seconds.
        case refused(retryAfter: Int)
    }

    /// Counts an attempt from `address` at `account` (a normalised e-mail address; empty when none was
    /// given) and says whether its password may be checked. The account is only counted when the address
    /// is within its limit, so one address cannot lock an account by itself.
    func begin(address: String, account: String, on db: any Database, now: Date = Date()) async throws -> Decision {
        let addressKey = Self.key("address", address)
        let byAddress = try await count(addressKey, rule: perAddress, on: db, now: now)
        if let wait = byAddress.retryAfter { return .refused(retryAfter: wait) }
        guard !account.isEmpty else { return .allowed(Attempt(addressKey: addressKey, accountKey: nil)) }
        let accountKey = Self.key("account", account)
        let byAccount = try await count(accountKey, rule: perAccount, on: db, now: now)
        if let wait = byAccount.retryAfter { return .refused(retryAfter: wait) }
        return .allowed(Attempt(addressKey: addressKey, accountKey: accountKey))
    }

    /// Settles a successful sign-in: clears the account's count, gives the address its attempt back, and
    /// removes rows whose window is over.
    func succeeded(_ attempt: Attempt, on db: any Database, now: Date = Date()) async throws {
        let sql = try Self.sql(db)
        if let accountKey = attempt.accountKey {
            try await sql.raw("DELETE FROM login_throttles WHERE throttle_key = \(bind: accountKey)").run()
        }
        try await sql.raw("""
            UPDATE login_throttles SET attempts = attempts - 1
            WHERE throttle_key = \(bind: attempt.addressKey) AND attempts > 0
            """).run()
        let oldest = now.addingTimeInterval(-max(perAddress.window, perAccount.window))
        try await sql.raw("DELETE FROM login_throttles WHERE window_start <= \(bind: oldest)").run()
    }

    /// The stored form of a key: SHA-256 hex of `kind:value`.
    static func key(_ kind: String, _ value: String) -> String {
        Hex.encode(SHA256.hash(data: Data("\(kind):\(value)".utf8)))
    }

    /// The outcome of counting one attempt against one key.
    struct Count {
        let attempts: Int
        /// Seconds until the window ends when this attempt is over the limit; `nil` when it is within.
        let retryAfter: Int?
    }

    /// Adds one attempt to `key` (starting a new window when the last one is over) and returns the count,
    /// in one statement, so concurrent attempts each see a different number.
    func count(_ key: String, rule: Rule, on db: any Database, now: Date) async throws -> Count {
        let sql = try Self.sql(db)
        let expired = now.addingTimeInterval(-rule.window)
        struct Row: Decodable {
            let attempts: Int
            let window_start: Date
        }
        let row = try await sql.raw("""
            INSERT INTO login_throttles (throttle_key, window_start, attempts)
            VALUES (\(bind: key), \(bind: now), 1)
            ON CONFLICT (throttle_key) DO UPDATE SET
                attempts = CASE WHEN login_throttles.window_start <= \(bind: expired) THEN 1
                                ELSE login_throttles.attempts + 1 END,
                window_start = CASE WHEN login_throttles.window_start <= \(bind: expired) THEN \(bind: now)
                                    ELSE login_throttles.window_start END
            RETURNING attempts, window_start
            """).first(decoding: Row.self)
        guard let row else { throw LoginThrottleError() }
        guard row.attempts > rule.limit else { return Count(attempts: row.attempts, retryAfter: nil) }
        let remaining = row.window_start.addingTimeInterval(rule.window).timeIntervalSince(now)
        return Count(attempts: row.attempts, retryAfter: max(1, Int(remaining.rounded(.up))))
    }

    private static func sql(_ db: any Database) throws -> any SQLDatabase {
        guard let sql = db as? any SQLDatabase else { throw LoginThrottleError() }
        return sql
    }
}

/// The throttle's statement returned nothing (or the database is not SQL): the sign-in fails closed.
struct LoginThrottleError: Error, CustomStringConvertible {
    var description: String { "the sign-in throttle could not count the attempt" }
}

extension Application {
    private struct LoginRateLimiterKey: StorageKey { typealias Value = LoginRateLimiter }

    /// The sign-in limits (the counts themselves live in the database).
    var loginRateLimiter: LoginRateLimiter {
        get { storage[LoginRateLimiterKey.self] ?? LoginRateLimiter() }
        set { storage[LoginRateLimiterKey.self] = newValue }
    }
}
