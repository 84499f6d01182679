import Fluent
import Foundation
import SQLKit

/// Removes what is older than `MOEEN_RETENTION_DAYS` (default 90), run by the scheduler once across
/// processes: test logs, health history, webhook events and inbound messages are deleted; finished
/// messages keep their row, recipient and history but lose their content (text, e-mail subject and HTML,
/// template parameters), replaced by a marker. Work goes in small batches, each its own statement, so no
/// run holds SQLite's writer or PostgreSQL's locks for long. Audit logs are kept.
struct Retention {
    let db: any Database
    let days: Int
    /// Rows per statement.
    var batchSize = 500
    /// Statements per run; when they are spent and more remains, the scheduler comes back in a minute.
    var maxBatches = 40

    /// What replaces a removed message body.
    static let marker = "[removed after the retention period]"
    /// Message states that no longer change (a `sent` message may still get a receipt, but not after the
    /// retention period).
    static let finished = ["sent", "delivered", "read", "failed", "dead", "cancelled"]

    /// How many rows one run changed, per table.
    struct Report: Equatable, Sendable {
        var deleted: [String: Int] = [:]
        var redactedMessages = 0
        /// More is due: the batch budget ran out.
        var more = false
    }

    /// The tables rows are deleted from, and the column that dates them.
    static let deletions: [(table: String, column: String)] = [
        ("integration_test_logs", "created_at"),
        ("integration_health_history", "recorded_at"),
        ("inbound_messages", "created_at"),
        ("webhook_events", "created_at"),
    ]

    func cutoff(now: Date) -> Date { now.addingTimeInterval(-Double(days) * 86_400) }

    /// One run: everything dated strictly before `now − days`.
    func run(now: Date) async throws -> Report {
        guard let sql = db as? any SQLDatabase else { return Report() }
        let cutoff = cutoff(now: now)
        var report = Report()
        var budget = maxBatches
        for (table, column) in Self.deletions {
            while budget > 0 {
                budget -= 1
                let count = try await deleteBatch(table: table, column: column, before: cutoff, on: sql)
                report.deleted[table, default: 0] += count
                if count < batchSize { break }
                if budget == 0 { report.more = true }
            }
        }
        while budget > 0 {
            budget -= 1
            let count = try await redactBatch(before: cutoff, now: now, on: sql)
            report.redactedMessages += count
            if count < batchSize { break }
            if budget == 0 { report.more = true }
        }
        return report
    }

    private struct IDRow: Decodable { let id: UUID }

    private func deleteBatch(table: String, column: String, before cutoff: Date, on sql: any SQLDatabase) async throws -> Int {
        let ids = try await sql.select().column("id").from(table)
            .where(SQLIdentifier(column), .lessThan, SQLBind(cutoff) as any SQLExpression)
            .limit(batchSize)
            .all(decoding: IDRow.self).map(\.id)
        guard !ids.isEmpty else { return 0 }
        try await sql.delete(from: table).where("id", .in, ids).run()
        return ids.count
    }

    private func redactBatch(before cutoff: Date, now: Date, on sql: any SQLDatabase) async throws -> Int {
        let ids = try await sql.select().column("id").from(OutboundMessage.schema)
            .where("created_at", .lessThan, SQLBind(cutoff))
            .where("status", .in, Self.finished)
            .where { $0.where("text", .notEqual, SQLBind(Self.marker)).orWhere("text", .is, SQLLiteral.null) }
            .limit(batchSize)
            .all(decoding: IDRow.self).map(\.id)
        guard !ids.isEmpty else { return 0 }
        try await sql.update(OutboundMessage.schema)
            .set("text", to: SQLBind(Self.marker))
            .set("subject", to: SQLLiteral.null)
            .set("html", to: SQLLiteral.null)
            .set("template", to: SQLLiteral.null)
            .set("updated_at", to: SQLBind(now))
            .where("id", .in, ids)
            .run()
        return ids.count
    }
}
