import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Synchronization

/// Per-integration delivery state in `integration_delivery_states`: the shared rate limiter (GCRA), the
/// provider's back-pressure and the circuit breaker. Every change is one conditional statement, so processes
/// sharing the database never need a lock of their own.
struct DeliveryPolicyStore: Sendable {
    let db: any Database

    static let table = "integration_delivery_states"

    /// An integration's delivery state as the API shows it.
    struct Snapshot: Sendable, Equatable {
        /// `active`, `paused` or `half_open`.
        var state: String
        var reason: String?
        var until: Date?
    }

    private var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else {
                throw APIError(.internalServerError, code: "internal_error", message: "Delivery policies need an SQL database.")
            }
            return sql
        }
    }

    /// Integrations whose row this process has seen made (so a send does not insert before every reservation).
    private static let known = Mutex<Set<UUID>>([])

    /// Makes the integration's row if it has none yet.
    func ensure(_ integrationID: UUID, now: Date) async throws {
        try await sql.insert(into: Self.table)
            .columns("integration_config_id", "tat_ms", "state", "consecutive_failures", "updated_at")
            .values(SQLBind(integrationID), SQLBind(Int64(0)), SQLBind("active"), SQLBind(0), SQLBind(now))
            .ignoringConflicts(with: ["integration_config_id"])
            .run()
    }

    // MARK: - Rate limit

    /// Where a send through the integration may go.
    enum Reservation: Sendable, Equatable {
        /// A slot is held at this time (now or within the horizon): wait until then, then send.
        case slot(Date)
        /// No slot within the horizon: try again from this time.
        case notBefore(Date)
    }

    /// Reserves the next conforming slot under `limit`, if it falls within `horizon` of `now`.
    func reserve(_ integrationID: UUID, limit: RateLimit, now: Date, horizon: Duration) async throws -> Reservation {
        guard case .limited = limit else { return .slot(now) }
        let nowMs = Self.milliseconds(now)
        // Headroom for what happens between a slot and the provider's door (waking, the request on the wire,
        // several processes on a busy machine): slots 1 % further apart than 1/R, and the burst tolerance short
        // by `jitterAllowance`, so the rate the provider sees stays within the limit in every second.
        let interval = Int64((Double(limit.intervalMilliseconds) * Self.intervalHeadroom).rounded(.up))
        let tolerance = max(0, limit.toleranceMilliseconds - Self.jitterAllowanceMilliseconds)
        let horizonMs = Int64(horizon.seconds * 1000)
        if !Self.known.withLock({ $0.contains(integrationID) }) {
            try await ensure(integrationID, now: now)
            Self.known.withLock { _ = $0.insert(integrationID) }
        }
        for _ in 0..<2 {
            // TAT' = max(TAT, now) + T, granted when the slot max(now, TAT − τ) is within the horizon.
            let rows = try await sql.raw("""
                UPDATE \(ident: Self.table)
                SET tat_ms = (CASE WHEN tat_ms > \(bind: nowMs) THEN tat_ms ELSE \(bind: nowMs) END) + \(bind: interval)
                WHERE integration_config_id = \(bind: integrationID) AND tat_ms - \(bind: tolerance) <= \(bind: nowMs + horizonMs)
                RETURNING tat_ms
                """).all()
            if let row = rows.first {
                let newTAT = try row.decode(column: "tat_ms", as: Int64.self)
                let slot = max(nowMs, newTAT - interval - tolerance)
                return .slot(Self.date(slot))
            }
            let current = try await sql.select().column("tat_ms").from(Self.table)
                .where("integration_config_id", .equal, SQLBind(integrationID)).first()
            guard let current else {
                // The row went (its integration was deleted and made again?): make it and ask once more.
                try await ensure(integrationID, now: now)
                continue
            }
            let tat = try current.decode(column: "tat_ms", as: Int64.self)
            return .notBefore(Self.date(max(nowMs + 1, tat - tolerance - horizonMs / 2)))
        }
        return .notBefore(now.addingTimeInterval(1))
    }

    // MARK: - Back-pressure and the circuit breaker

    /// The provider asked to wait (429 with Retry-After): no message goes through the integration until then.
    func backOff(_ integrationID: UUID, until: Date, reason: String, now: Date) async throws {
        try await ensure(integrationID, now: now)
        try await sql.update(Self.table)
            .set("backoff_until", to: SQLBind(until))
            .set("reason", to: SQLBind(reason))
            .set("updated_at", to: SQLBind(now))
            .where("integration_config_id", .equal, SQLBind(integrationID))
            .where { group in
                group.where("backoff_until", .is, SQLLiteral.null).orWhere("backoff_until", .lessThan, SQLBind(until))
            }
            .run()
    }

    /// A send through the integration succeeded: the breaker closes (a half-open trial decided it).
    func recordSuccess(_ integrationID: UUID, now: Date) async throws {
        // Nearly always there is nothing to close: a read, so SQLite's single writer is not taken per send.
        let current = try await sql.select().columns("consecutive_failures", "state").from(Self.table)
            .where("integration_config_id", .equal, SQLBind(integrationID)).first()
        guard let current,
              try current.decode(column: "consecutive_failures", as: Int.self) != 0
                || current.decode(column: "state", as: String.self) != "active"
        else { return }
        try await sql.update(Self.table)
            .set("consecutive_failures", to: SQLBind(0))
            .set("state", to: SQLBind("active"))
            .set("reason", to: SQLLiteral.null)
            .set("paused_until", to: SQLLiteral.null)
            .set("trial_owner", to: SQLLiteral.null)
            .set("trial_expires_at", to: SQLLiteral.null)
            .set("updated_at", to: SQLBind(now))
            .where("integration_config_id", .equal, SQLBind(integrationID))
            .where { $0.where("consecutive_failures", .notEqual, SQLBind(0)).orWhere("state", .notEqual, SQLBind("active")) }
            .run()
    }

    /// A retryable failure (not back-pressure), or a credentials failure (`opensAtOnce`): counts towards the
    /// breaker, which opens for `cooldown` after `threshold` in a row, at once for credentials, and again
    /// when a half-open trial fails. Returns the state afterwards.
    @discardableResult
    func recordFailure(
        _ integrationID: UUID, reason: String, opensAtOnce: Bool, threshold: Int, cooldown: Duration, now: Date
    ) async throws -> String {
        try await ensure(integrationID, now: now)
        let opens: SQLQueryString = opensAtOnce
            ? "1 = 1"
            : "(state = 'half_open' OR consecutive_failures + 1 >= \(bind: threshold))"
        let until = now.addingTimeInterval(cooldown.seconds)
        let rows = try await sql.raw("""
            UPDATE \(ident: Self.table)
            SET consecutive_failures = consecutive_failures + 1,
                state = CASE WHEN \(opens) THEN 'paused' ELSE state END,
                paused_until = CASE WHEN \(opens) THEN \(bind: until) ELSE paused_until END,
                reason = CASE WHEN \(opens) THEN \(bind: reason.capped(characters: 500)) ELSE reason END,
                trial_owner = NULL, trial_expires_at = NULL, updated_at = \(bind: now)
            WHERE integration_config_id = \(bind: integrationID)
            RETURNING state
            """).all()
        return try rows.first?.decode(column: "state", as: String.self) ?? "active"
    }

    /// Paused integrations whose cooldown is over become half-open with this process holding the one trial
    /// (until `trialUntil`, so a trial whose process died is given to another). Returns those integrations.
    func claimTrials(owner: String, now: Date, trialUntil: Date) async throws -> [UUID] {
        try await sql.update(Self.table)
            .set("state", to: SQLBind("half_open"))
            .set("trial_owner", to: SQLBind(owner))
            .set("trial_expires_at", to: SQLBind(trialUntil))
            .set("updated_at", to: SQLBind(now))
            .where { group in
                group.where { $0.where("state", .equal, SQLBind("paused")).where("paused_until", .lessThanOrEqual, SQLBind(now)) }
                    .orWhere { $0.where("state", .equal, SQLBind("half_open")).where("trial_expires_at", .lessThanOrEqual, SQLBind(now)) }
            }
            .returning("integration_config_id")
            .all()
            .map { try $0.decode(column: "integration_config_id", as: UUID.self) }
    }

    /// Closes the breaker and clears any back-pressure: a successful test connection, or new settings saved.
    func reset(_ integrationID: UUID, now: Date) async throws {
        try await sql.update(Self.table)
            .set("consecutive_failures", to: SQLBind(0))
            .set("state", to: SQLBind("active"))
            .set("reason", to: SQLLiteral.null)
            .set("paused_until", to: SQLLiteral.null)
            .set("backoff_until", to: SQLLiteral.null)
            .set("trial_owner", to: SQLLiteral.null)
            .set("trial_expires_at", to: SQLLiteral.null)
            .set("updated_at", to: SQLBind(now))
            .where("integration_config_id", .equal, SQLBind(integrationID))
            .run()
    }

    /// The delivery state of each of `ids` (integrations without a row are `active`).
    func snapshots(_ ids: [UUID], now: Date) async throws -> [UUID: Snapshot] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await sql.select()
            .columns("integration_config_id", "state", "reason", "paused_until", "backoff_until")
            .from(Self.table)
            .where(SQLColumn("integration_config_id"), .in, SQLGroupExpression(ids.map { SQLBind($0) }))
            .all()
        var result: [UUID: Snapshot] = [:]
        for row in rows {
            let id = try row.decode(column: "integration_config_id", as: UUID.self)
            let state = try row.decode(column: "state", as: String.self)
            let reason = try row.decode(column: "reason", as: String?.self)
            let pausedUntil = try row.decode(column: "paused_until", as: Date?.self)
            let backoffUntil = try row.decode(column: "backoff_until", as: Date?.self)
            let backingOff = backoffUntil.map { $0 > now } ?? false
            if state == "paused", let pausedUntil, pausedUntil <= now, !backingOff {
                // The cooldown is over; the next dispatcher pass sends the one trial.
                result[id] = Snapshot(state: "half_open", reason: reason, until: nil)
            } else if state != "active" {
                let until = state == "paused" ? [pausedUntil, backingOff ? backoffUntil : nil].compactMap { $0 }.max() : nil
                result[id] = Snapshot(state: state, reason: reason, until: until)
            } else if let backoffUntil, backoffUntil > now {
                result[id] = Snapshot(state: "paused", reason: reason ?? "the provider asked to wait", until: backoffUntil)
            }
        }
        return result
    }

    /// Slots are this much further apart than 1/R (the sustained rate is R / 1.01, inside [0.97 R, R]).
    static let intervalHeadroom = 1.01
    /// The burst tolerance is this much shorter than (burst − 1)/R.
    static let jitterAllowanceMilliseconds: Int64 = 50

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
