import Fluent
import Foundation
import MoeenCore

/// Keeps an integration's health after each test: `last_test_*`, `status`, `health_score` and a point in
/// `integration_health_history`.
///
/// The score is `HealthScore.compute` over the integration's most recent tests (see its documentation:
/// the last 20 results, each weighted by recency with a one-hour half-life, failures counting as zero and
/// slow answers losing up to 10 points; 0 when never tested). Tests of unsaved settings never count.
struct HealthRecorder {
    let db: any Database

    /// Records the test's outcome on the row and returns the new score.
    func record(_ row: IntegrationConfig, status: String, message: String, at now: Date) async throws -> Int {
        let rowID = try row.requireID()
        // Only the three columns the score needs: the logs' request and response documents stay unread.
        let recent = try await IntegrationTestLog.query(on: db)
            .filter(\.$integration.$id == rowID)
            .filter(\.$configSource == "stored")
            .sort(\.$createdAt, .descending)
            .limit(HealthScore.window)
            .field(\.$id).field(\.$createdAt).field(\.$status).field(\.$durationMs)
            .all()
        let score = HealthScore.compute(
            results: recent.map { (at: $0.createdAt ?? now, success: $0.status == "success", durationMs: $0.durationMs ?? 0) },
            now: now
        )
        row.lastTestAt = now
        row.lastTestStatus = status == "success" ? "success" : "failed"
        row.lastTestMessage = String(message.prefix(1000))
        row.healthScore = score
        if row.isEnabled {
            row.status = status == "success" ? "active" : "error"
        } else {
            row.status = "inactive"
        }
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
}
