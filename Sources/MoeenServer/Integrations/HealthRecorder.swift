import Fluent
import SQLKit
import Foundation
import MoeenCore

/// Keeps an integration's health after each test: `last_test_*`, `status`, `health_score` and a point in
/// `integration_health_history`.
///
/// The score is `HealthScore.compute(tests:deliveries:now:)` over the integration's most recent tests and
/// delivery attempts (see its documentation: the last 20 of each, weighted by recency with a one-hour
/// half-life, failures counting as zero, slow answers losing up to 10 points; the mean of the two when
/// messages were attempted in the last 24 hours; 0 when never tested). Tests of unsaved settings never count.
struct HealthRecorder {
    let db: any Database

    /// Records the test's outcome on the row and returns the new score.
    func record(_ row: IntegrationConfig, status: String, message: String, at now: Date) async throws -> Int {
        let rowID = try row.requireID()
        let recent = try await Self.recentResults(of: rowID, on: db)
        let deliveries = try await Self.recentDeliveries(of: rowID, on: db, now: now)
        let score = HealthScore.compute(
            tests: recent.map { (at: $0.createdAt ?? now, success: $0.status == "success", durationMs: $0.durationMs ?? 0) },
            deliveries: deliveries,
            now: now
        )
        row.lastTestAt = now
        row.lastTestStatus = status == "success" ? "success" : "failed"
        row.lastTestMessage = String(message.prefix(1000))
        row.healthScore = score
        row.status = TestingStatus.settled(isEnabled: row.isEnabled, lastTestStatus: row.lastTestStatus)
        try await db.transaction { db in
            try await row.save(on: db)
            let point = IntegrationHealthHistory()
            point.$integration.id = rowID
            point.score = score
            point.status = row.status
            point.recordedAt = now
            try await point.create(on: db)
        }
        return score
    }

    /// One recent stored test, as the score needs it.
    struct RecentResult: Decodable {
        let createdAt: Date?
        let status: String
        let durationMs: Int?

        enum CodingKeys: String, CodingKey {
            case status
            case createdAt = "created_at"
            case durationMs = "duration_ms"
        }
    }

    /// The row's last `HealthScore.window` tests of its stored settings, newest first: only the three
    /// columns the score needs, read as plain rows (the logs' request and response documents stay unread,
    /// and no model is materialised on this hot path).
    static func recentResults(of rowID: UUID, on db: any Database) async throws -> [RecentResult] {
        guard let sql = db as? any SQLDatabase else {
            return try await IntegrationTestLog.query(on: db)
                .filter(\.$integration.$id == rowID)
                .filter(\.$configSource == "stored")
                .sort(\.$createdAt, .descending)
                .limit(HealthScore.window)
                .all()
                .map { RecentResult(createdAt: $0.createdAt, status: $0.status, durationMs: $0.durationMs) }
        }
        return try await sql.select()
            .columns("created_at", "status", "duration_ms")
            .from(IntegrationTestLog.schema)
            .where("integration_config_id", .equal, rowID)
            .where("config_source", .equal, "stored")
            .orderBy("created_at", .descending)
            .limit(HealthScore.window)
            .all(decoding: RecentResult.self)
    }

    /// One dispatcher outcome, as the score needs it.
    private struct DeliveryRow: Decodable {
        let at: Date
        let status: String
    }

    /// The dispatcher's last `HealthScore.window` attempts of the integration within the last 24 hours,
    /// newest first: `sent` a success; a scheduled retry (`queued` with "retry at …") or `dead` a failure.
    /// Permanent refusals of one message (`failed`) are left out: they are the message's, not the channel's.
    static func recentDeliveries(of rowID: UUID, on db: any Database, now: Date) async throws -> [(at: Date, success: Bool)] {
        guard let sql = db as? any SQLDatabase else { return [] }
        let since = now.addingTimeInterval(-HealthScore.deliveryHorizon)
        let rows = try await sql.raw("""
            SELECT e.at, e.status FROM message_events e JOIN outbound_messages m ON m.id = e.message_id
            WHERE m.integration_config_id = \(bind: rowID) AND e.source = 'dispatcher' AND e.at >= \(bind: since)
              AND (e.status IN ('sent', 'dead') OR (e.status = 'queued' AND e.detail LIKE 'retry at %'))
            ORDER BY e.at DESC LIMIT \(unsafeRaw: String(HealthScore.window))
            """).all(decoding: DeliveryRow.self)
        return rows.map { (at: $0.at, success: $0.status == "sent") }
    }
}
