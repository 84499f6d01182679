import Fluent
import SQLKit

/// `scheduled_jobs`: one row per periodic job (each integration's health check, alert evaluation, retention),
/// claimed with a lease so that every period runs once across all processes on the database. Also the
/// indexes retention and the health score's delivery outcomes read by time.
struct CreateScheduledJobs: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("scheduled_jobs")
            .field("name", .string, .identifier(auto: false))
            .field("next_run_at", .datetime, .required)
            .field("lease_owner", .string)
            .field("lease_expires_at", .datetime)
            .field("last_started_at", .datetime)
            .field("last_finished_at", .datetime)
            .field("last_error", .string)
            .field("run_count", .int64, .required, .sql(.default(0)))
            .create()
        try await database.createIndex("idx_scheduled_jobs_due", on: "scheduled_jobs", columns: ["next_run_at"])
        try await database.createIndex("idx_message_events_at", on: "message_events", columns: ["at"])
        try await database.createIndex("idx_webhook_events_created", on: "webhook_events", columns: ["created_at"])
        try await database.createIndex("idx_integration_test_logs_created", on: "integration_test_logs", columns: ["created_at"])
        try await database.createIndex("idx_integration_health_history_recorded", on: "integration_health_history",
                                       columns: ["recorded_at"])
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            for index in ["idx_message_events_at", "idx_webhook_events_created", "idx_integration_test_logs_created",
                          "idx_integration_health_history_recorded"] {
                try await sql.drop(index: index).run()
            }
        }
        try await database.schema("scheduled_jobs").delete()
    }
}
