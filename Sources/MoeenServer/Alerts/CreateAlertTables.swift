import Fluent
import FluentSQL
import Foundation
import SQLKit

/// `alert_rules`, `alerts` and `webhook_rejection_samples` (issue 12), and the default rules.
///
/// - At most one open alert per (rule, subject): a partial unique index (both databases support `WHERE`).
/// - `webhook_rejection_samples`: `webhook_rejections` keeps one running count per integration, so the
///   evaluator samples it on every run to measure its growth over a rule's window.
/// - The default rules notify nobody (`channels` empty) until an admin adds a channel.
struct CreateAlertTables: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await createRules(on: database)
        try await createAlerts(on: database)
        try await database.schema("webhook_rejection_samples")
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .cascade))
            .field("sampled_at", .datetime, .required)
            .field("count", .int64, .required)
            .create()
        try await database.createIndex("idx_webhook_rejection_samples", on: "webhook_rejection_samples",
                                       columns: ["integration_config_id", "sampled_at"])
        try await seedDefaults(on: database)
    }

    private func createRules(on database: any Database) async throws {
        let table = "alert_rules"
        try await database.schema(table)
            .id()
            .publicID()
            .field("name", .string, .required)
            .field("kind", .string, .required)
            .field("integration_config_id", .uuid, .references("integration_configs", "id", onDelete: .cascade))
            .field("integration_type", .string)
            .field("threshold", .double)
            .field("window_seconds", .int)
            .field("cooldown_seconds", .int, .required, .sql(.default(3600)))
            .field("channels", database.jsonType, .required, database.jsonDefault("[]"))
            .field("is_enabled", .bool, .required, .sql(.default(true)))
            .field("is_default", .bool, .required, .sql(.default(false)))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .unique(on: "name", name: "uq_alert_rules_name")
            .allowed("kind", AlertKind.allCases.map(\.rawValue), table: table)
            .allowed("integration_type", ["whatsapp", "sms", "email", "google_calendar", "slack", "seha", "tatman"], table: table)
            .check("ck_alert_rules_scope", "integration_config_id IS NULL OR integration_type IS NULL")
            .check("ck_alert_rules_window", "window_seconds IS NULL OR window_seconds > 0")
            .check("ck_alert_rules_cooldown", "cooldown_seconds >= 0")
            .create()
        try await database.createIndex("idx_alert_rules_created", on: table, columns: ["created_at", "id"])
    }

    private func createAlerts(on database: any Database) async throws {
        let table = "alerts"
        try await database.schema(table)
            .id()
            .publicID()
            .field("rule_id", .uuid, .required, .references("alert_rules", "id", onDelete: .cascade))
            .field("integration_config_id", .uuid, .references("integration_configs", "id", onDelete: .setNull))
            .field("subject", .string, .required)
            .field("state", .string, .required, .sql(.default("open")))
            .field("summary", .string, .required)
            .field("value", .double)
            .field("fired_at", .datetime, .required)
            .field("last_notified_at", .datetime)
            .field("notifications_sent", .int, .required, .sql(.default(0)))
            .field("resolved_at", .datetime)
            .field("acknowledged_at", .datetime)
            .field("acknowledged_by", .uuid, .references("users", "id", onDelete: .setNull))
            .field("details", database.jsonType)
            .timestamps()
            .allowed("state", AlertState.allCases.map(\.rawValue), table: table)
            .check("ck_alerts_resolved", "(state = 'open' AND resolved_at IS NULL) OR (state = 'resolved' AND resolved_at IS NOT NULL)")
            .create()
        try await database.createIndex("idx_alerts_created", on: table, columns: ["created_at", "id"])
        try await database.createIndex("idx_alerts_state_created", on: table, columns: ["state", "created_at", "id"])
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE UNIQUE INDEX uq_alerts_open_subject ON alerts (rule_id, subject) WHERE state = 'open'").run()
        }
    }

    /// The rules every centre starts with; see `AlertKind.thresholdMeaning` for each threshold.
    static let defaults: [(name: String, kind: AlertKind, threshold: Double, window: Int?, cooldown: Int)] = [
        ("Health score below 50 for 15 minutes", .healthBelow, 50, 900, 3600),
        ("3 failed checks in a row", .consecutiveFailures, 3, nil, 3600),
        ("Half of sends failing over 15 minutes", .dispatchFailureRate, 0.5, 900, 3600),
        ("Messages waiting in the queue over 10 minutes", .queueAge, 600, nil, 3600),
        ("Dead messages in the last hour", .deadMessages, 1, 3600, 3600),
        ("Forged webhooks: 10 in 15 minutes", .signatureFailures, 10, 900, 3600),
        ("No delivery receipts for 30 minutes", .receiptsMissing, 30, 7200, 3600),
        ("Credentials expire in 14, 7 or 1 days", .credentialExpiry, 14, nil, 86_400),
    ]

    private func seedDefaults(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        let now = Date()
        for rule in Self.defaults {
            try await sql.insert(into: "alert_rules")
                .columns("id", "public_id", "name", "kind", "threshold", "window_seconds", "cooldown_seconds",
                         "is_enabled", "is_default", "created_at", "updated_at")
                .values(SQLBind(UUID()), SQLBind(PublicID.make(.alertRule, at: now)), SQLBind(rule.name),
                        SQLBind(rule.kind.rawValue), SQLBind(rule.threshold), SQLBind(rule.window),
                        SQLBind(rule.cooldown), SQLBind(true), SQLBind(true), SQLBind(now), SQLBind(now))
                .run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("webhook_rejection_samples").delete()
        try await database.schema("alerts").delete()
        try await database.schema("alert_rules").delete()
    }
}
