import Fluent
import FluentSQL
import Foundation
import SQLKit

/// The outbox's state changes as single conditional statements, so two processes (or an operator and a
/// dispatcher) can never both move one message: each change names the state it expects and, for the
/// dispatcher, the lease it holds. Each change that happens writes its `message_events` row in the same
/// transaction.
struct MessageStore: Sendable {
    let db: any Database

    private var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else {
                throw APIError(.internalServerError, code: "internal_error", message: "The outbox needs an SQL database.")
            }
            return sql
        }
    }

    private static let table = OutboundMessage.schema

    // MARK: - Dispatcher

    /// Claims up to `limit` due messages for `owner` until `leaseUntil`: each becomes `sending`, its attempt
    /// counted. On PostgreSQL the rows are chosen `FOR UPDATE SKIP LOCKED`, so concurrent claimers in any
    /// number of processes take disjoint sets; on SQLite the one statement runs under the single writer lock.
    ///
    /// Messages of integrations that are paused (circuit open or half-open, or the provider asked to wait)
    /// are left alone, as are those of `excluding` (integrations this process knows are at their rate limit).
    /// With `integration`, only that integration's messages are claimed, paused or not (a half-open trial).
    func claim(
        owner: String, limit: Int, now: Date, leaseUntil: Date, excluding: [UUID] = [], integration: UUID? = nil
    ) async throws -> [OutboundMessage] {
        let lock: SQLQueryString = db.isPostgres ? " FOR UPDATE SKIP LOCKED" : ""
        var scope: SQLQueryString
        if let integration {
            scope = " AND integration_config_id = \(bind: integration)"
        } else {
            scope = """
                 AND integration_config_id NOT IN (SELECT integration_config_id FROM \(ident: DeliveryPolicyStore.table)
                    WHERE state <> 'active' OR backoff_until > \(bind: now))
                """
            if !excluding.isEmpty {
                scope = scope + " AND integration_config_id NOT IN (\(binds: excluding))"
            }
        }
        let pick: SQLQueryString = """
            SELECT id FROM \(ident: Self.table)
            WHERE status = 'queued' AND next_attempt_at <= \(bind: now)\(scope)
            ORDER BY next_attempt_at
            LIMIT \(literal: limit)\(lock)
            """
        let set: SQLQueryString = """
            SET status = 'sending', lease_owner = \(bind: owner), lease_expires_at = \(bind: leaseUntil),
                attempts = attempts + 1, updated_at = \(bind: now)
            """
        // The claim and its `sending` events commit together.
        let messages = try await db.transaction { tx -> [OutboundMessage] in
            guard let sql = tx as? any SQLDatabase else { return [] }
            let ids = try await sql.raw(Self.updatePicked(pick, set: set, expected: "status = 'queued'", postgres: tx.isPostgres))
                .all().map { try $0.decode(column: "id", as: UUID.self) }
            guard !ids.isEmpty else { return [] }
            let messages = try await OutboundMessage.query(on: tx).filter(\.$id ~~ ids).all()
            try await MessageStore(db: tx).insertEvents(messages.map { message in
                (try message.requireID(), MessageStatus.sending, "attempt \(message.attempts) of \(message.maxAttempts)")
            }, at: now, source: .dispatcher)
            return messages
        }
        return messages.sorted { ($0.nextAttemptAt ?? now) < ($1.nextAttemptAt ?? now) }
    }

    /// `UPDATE … SET <set> WHERE id IN (<pick>) AND <expected> RETURNING id`, the rows chosen once.
    ///
    /// On PostgreSQL the pick is a CTE: a `LIMIT … FOR UPDATE SKIP LOCKED` subquery inside `IN (…)` may be run
    /// more than once by the planner and so update more rows than the limit (or rows it never locked); a CTE
    /// is evaluated once. SQLite runs the one statement under its writer lock, where the subquery is safe.
    static func updatePicked(_ pick: SQLQueryString, set: SQLQueryString, expected: String, postgres: Bool) -> SQLQueryString {
        if postgres {
            return """
                WITH picked AS (\(pick))
                UPDATE \(ident: table) AS m \(set)
                FROM picked WHERE m.id = picked.id AND m.\(unsafeRaw: expected)
                RETURNING m.id
                """
        }
        return """
            UPDATE \(ident: table) \(set)
            WHERE id IN (\(pick)) AND \(unsafeRaw: expected)
            RETURNING id
            """
    }

    /// Messages whose claim expired (their process stopped or lost the database mid-send) go back to
    /// `queued`, due now; the next claim counts another attempt. Returns how many.
    @discardableResult
    func recoverExpiredLeases(now: Date, limit: Int = 500) async throws -> Int {
        let sql = try sql
        let lock: SQLQueryString = db.isPostgres ? " FOR UPDATE SKIP LOCKED" : ""
        let pick: SQLQueryString = """
            SELECT id FROM \(ident: Self.table)
            WHERE status = 'sending' AND lease_expires_at <= \(bind: now)
            LIMIT \(literal: limit)\(lock)
            """
        let set: SQLQueryString = """
            SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = \(bind: now),
                updated_at = \(bind: now)
            """
        let ids = try await sql.raw(Self.updatePicked(pick, set: set, expected: "status = 'sending'", postgres: db.isPostgres))
            .all().map { try $0.decode(column: "id", as: UUID.self) }
        try await insertEvents(ids.map { ($0, .queued, "claim expired before an outcome was recorded; queued again") },
                               at: now, source: .dispatcher)
        return ids.count
    }

    /// What a send ended in, as the row records it.
    enum Outcome: Sendable {
        case sent(providerMessageID: String?)
        case retry(at: Date, error: String, code: String?)
        case failed(error: String, code: String?)
        case dead(error: String, code: String?)
        /// Not attempted after all (the process is stopping): back to `queued`, the attempt not counted.
        case released(reason: String)
        /// Not attempted yet for a policy (rate limit, quiet hours): `queued` until then, the attempt not counted.
        case deferred(until: Date, reason: String)
        /// Not to be sent (the recipient opted out): `cancelled`.
        case cancelled(reason: String, code: String)
    }

    /// Records `outcome` if `owner` still holds the message's claim; `false` when the claim was lost (it
    /// expired and another process took the message), in which case nothing is written.
    @discardableResult
    func record(_ outcome: Outcome, for id: UUID, owner: String, now: Date) async throws -> Bool {
        try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return false }
            var update = sql.update(Self.table)
                .set("lease_owner", to: SQLLiteral.null)
                .set("lease_expires_at", to: SQLLiteral.null)
                .set("updated_at", to: SQLBind(now))
            let status: MessageStatus
            let detail: String?
            switch outcome {
            case .sent(let providerID):
                status = .sent
                detail = providerID.map { "provider message id \($0)" }
                // Earlier attempts' errors stay in the events; the row describes where the message is now.
                update = update.set("provider_message_id", to: SQLBind(providerID))
                    .set("sent_at", to: SQLBind(now))
                    .set("next_attempt_at", to: SQLLiteral.null)
                    .set("last_error", to: SQLLiteral.null)
                    .set("last_error_code", to: SQLLiteral.null)
            case .retry(let at, let error, let code):
                status = .queued
                detail = "retry at \(MessageIntake.timestamp(at)): \(error)"
                update = update.set("next_attempt_at", to: SQLBind(at))
                    .set("last_error", to: SQLBind(error))
                    .set("last_error_code", to: SQLBind(code))
            case .failed(let error, let code), .dead(let error, let code):
                if case .dead = outcome { status = .dead } else { status = .failed }
                detail = error
                update = update.set("next_attempt_at", to: SQLLiteral.null)
                    .set("last_error", to: SQLBind(error))
                    .set("last_error_code", to: SQLBind(code))
                    .set("failed_at", to: SQLBind(now))
            case .released(let reason):
                status = .queued
                detail = reason
                update = update.set("next_attempt_at", to: SQLBind(now))
                    .set("attempts", to: SQLRaw("CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"))
            case .deferred(let until, let reason):
                status = .queued
                detail = reason
                update = update.set("next_attempt_at", to: SQLBind(until))
                    .set("attempts", to: SQLRaw("CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"))
            case .cancelled(let reason, let code):
                status = .cancelled
                detail = reason
                update = update.set("next_attempt_at", to: SQLLiteral.null)
                    .set("last_error", to: SQLBind(reason))
                    .set("last_error_code", to: SQLBind(code))
                    .set("attempts", to: SQLRaw("CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"))
            }
            let rows = try await update.set("status", to: SQLBind(status.rawValue))
                .where("id", .equal, SQLBind(id))
                .where("status", .equal, SQLBind(MessageStatus.sending.rawValue))
                .where("lease_owner", .equal, SQLBind(owner))
                .returning("id")
                .all()
            guard !rows.isEmpty else { return false }
            try await MessageStore(db: tx).insertEvents([(id, status, detail)], at: now, source: .dispatcher)
            return true
        }
    }

    /// Gives every claim `owner` still holds back to the queue (a stopping process); returns how many.
    func releaseAll(owner: String, now: Date, reason: String) async throws -> Int {
        let sql = try sql
        let ids = try await sql.update(Self.table)
            .set("status", to: SQLBind(MessageStatus.queued.rawValue))
            .set("lease_owner", to: SQLLiteral.null)
            .set("lease_expires_at", to: SQLLiteral.null)
            .set("next_attempt_at", to: SQLBind(now))
            .set("updated_at", to: SQLBind(now))
            .where("status", .equal, SQLBind(MessageStatus.sending.rawValue))
            .where("lease_owner", .equal, SQLBind(owner))
            .returning("id")
            .all()
            .map { try $0.decode(column: "id", as: UUID.self) }
        try await insertEvents(ids.map { ($0, .queued, reason) }, at: now, source: .dispatcher)
        return ids.count
    }

    // MARK: - Operators

    /// `failed` or `dead` → `queued`, attempts reset; `nil` when the message was in another state.
    func requeue(_ id: UUID, now: Date, by who: String) async throws -> Bool {
        try await transition(id, from: MessageStatus.retryable, to: .queued, now: now, detail: "retry requested by \(who)") {
            $0.set("attempts", to: SQLBind(0))
                .set("next_attempt_at", to: SQLBind(now))
                .set("failed_at", to: SQLLiteral.null)
        }
    }

    /// `queued` → `cancelled`; `false` when the message was in another state.
    func cancel(_ id: UUID, now: Date, detail: String, source: MessageEventSource = .operator) async throws -> Bool {
        try await transition(id, from: [.queued], to: .cancelled, now: now, detail: detail, source: source) {
            $0.set("next_attempt_at", to: SQLLiteral.null)
        }
    }

    private func transition(
        _ id: UUID, from: Set<MessageStatus>, to: MessageStatus, now: Date, detail: String,
        source: MessageEventSource = .operator, _ change: @escaping @Sendable (SQLUpdateBuilder) -> SQLUpdateBuilder
    ) async throws -> Bool {
        try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return false }
            let update = sql.update(Self.table)
                .set("status", to: SQLBind(to.rawValue))
                .set("updated_at", to: SQLBind(now))
            let rows = try await change(update)
                .where("id", .equal, SQLBind(id))
                .where(SQLColumn("status"), .in, SQLGroupExpression(from.map { SQLBind($0.rawValue) }))
                .returning("id")
                .all()
            guard !rows.isEmpty else { return false }
            try await MessageStore(db: tx).insertEvents([(id, to, detail)], at: now, source: source)
            return true
        }
    }

    // MARK: - Events

    /// One multi-row insert of events; their ids increase in the order given (see `OrderedUUID`).
    func insertEvents(_ events: [(UUID, MessageStatus, String?)], at now: Date, source: MessageEventSource) async throws {
        guard !events.isEmpty else { return }
        let sql = try sql
        var insert = sql.insert(into: MessageEvent.schema).columns("id", "message_id", "at", "status", "source", "detail")
        for (messageID, status, detail) in events {
            insert = insert.values(SQLBind(OrderedUUID.next()), SQLBind(messageID), SQLBind(now), SQLBind(status.rawValue),
                                   SQLBind(source.rawValue),
                                   SQLBind(detail.map { $0.capped(characters: MessageEvent.detailLimit) }))
        }
        try await insert.run()
    }
}
