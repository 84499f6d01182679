import Fluent
import SQLKit
import FluentSQL
import Foundation
import MoeenCore

/// `integration_configs` (the original's migration 053) and its seven default rows.
struct CreateIntegrationConfigs: AsyncMigration {
    static let types = ["whatsapp", "sms", "email", "google_calendar", "slack", "seha", "tatman"]

    /// The original's seed: one inactive row per type, health 0, empty settings. Frozen with this migration.
    static let defaults: [(type: String, name: String, description: String)] = [
        ("whatsapp", "WhatsApp Business API", "WhatsApp Business Cloud API for patient messages and reminders"),
        ("sms", "Twilio SMS Gateway", "Twilio SMS for appointment reminders and alerts"),
        ("email", "SendGrid Email Service", "SendGrid e-mail for reports and notifications"),
        ("google_calendar", "Google Calendar Integration", "Google Calendar sync for appointments and sessions"),
        ("slack", "Slack Notifications", "Slack incoming webhook for staff notifications"),
        ("seha", "Seha Platform Integration", "Seha national health platform"),
        ("tatman", "Tatman Insurance", "Tatman health insurance claims and eligibility"),
    ]

    func prepare(on database: any Database) async throws {
        try await database.schema("integration_configs")
            .id()
            .publicID()
            .field("integration_type", .string, .required)
            .field("name", .string, .required)
            .field("description", .string)
            .field("config", database.jsonType, .required, database.jsonDefault("{}"))
            .field("status", .string, .required, .sql(.default("inactive")))
            .field("is_enabled", .bool, .required, .sql(.default(false)))
            .field("last_test_at", .datetime)
            .field("last_test_status", .string)
            .field("last_test_message", .string)
            .field("health_score", .int, .required, .sql(.default(0)))
            .field("metadata", database.jsonType, .required, database.jsonDefault("{}"))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .field("updated_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .unique(on: "integration_type", "name", name: "uq_integration_configs_type_name")
            .allowed("integration_type", Self.types, table: "integration_configs")
            .allowed("status", ["active", "inactive", "error", "testing"], table: "integration_configs")
            .allowed("last_test_status", ["success", "failed", "pending"], table: "integration_configs")
            .percentage("health_score", table: "integration_configs")
            .create()
        try await database.createIndex("idx_integration_configs_type", on: "integration_configs", columns: ["integration_type"])
        try await database.createIndex("idx_integration_configs_status", on: "integration_configs", columns: ["status"])

        // Raw inserts, not the model: this migration must keep working whatever the model becomes.
        guard let sql = database as? any SQLDatabase else { return }
        let now = Date()
        for entry in Self.defaults {
            try await sql.insert(into: "integration_configs")
                .columns("id", "public_id", "integration_type", "name", "description", "config", "status",
                         "is_enabled", "health_score", "metadata", "created_at", "updated_at")
                .values(SQLBind(UUID()), SQLBind(PublicID.make(.integration, at: now)), SQLBind(entry.type),
                        SQLBind(entry.name), SQLBind(entry.description), SQLBind(JSONValue.object([:])),
                        SQLBind("inactive"), SQLBind(false), SQLBind(0), SQLBind(JSONValue.object([:])),
                        SQLBind(now), SQLBind(now))
                .run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_configs").delete()
    }
}

/// `integration_test_logs` (migration 053): one row per test, request and response redacted.
struct CreateIntegrationTestLogs: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("integration_test_logs")
            .id()
            .publicID()
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .cascade))
            .field("integration_type", .string, .required)
            .field("test_type", .string, .required, .sql(.default("connection")))
            .field("status", .string, .required)
            .field("request_data", database.jsonType)
            .field("response_data", database.jsonType)
            .field("error_message", .string)
            .field("duration_ms", .int)
            .field("tested_by", .uuid, .references("users", "id", onDelete: .setNull))
            .field("created_at", .datetime, .required)
            .allowed("status", ["success", "failed", "timeout"], table: "integration_test_logs")
            .allowed("test_type", ["connection", "send_message", "verify_credentials", "webhook", "health_check"], table: "integration_test_logs")
            .create()
        try await database.createIndex(
            "idx_integration_test_logs_config_created", on: "integration_test_logs",
            columns: ["integration_config_id", "created_at"]
        )
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_test_logs").delete()
    }
}

/// `audit_logs`: every change of an integration config (and other admin actions), secrets redacted.
struct CreateAuditLogs: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("audit_logs")
            .id()
            .field("action", .string, .required)
            .field("table_name", .string, .required)
            .field("record_id", .string)
            .field("old_values", database.jsonType)
            .field("new_values", database.jsonType)
            .field("user_id", .uuid, .references("users", "id", onDelete: .setNull))
            .field("ip_address", .string)
            .field("created_at", .datetime, .required)
            .allowed("action", ["INSERT", "UPDATE", "DELETE"], table: "audit_logs")
            .create()
        try await database.createIndex("idx_audit_logs_table_record", on: "audit_logs", columns: ["table_name", "record_id"])
        try await database.createIndex("idx_audit_logs_created_at", on: "audit_logs", columns: ["created_at"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("audit_logs").delete()
    }
}

/// `integration_test_logs.config_source`: whether a test ran the row's stored settings (`stored`, counted in
/// its health) or unsaved settings sent with the request (`unsaved`, logged but never counted).
struct UpdateIntegrationTestLogsAddConfigSource: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("integration_test_logs")
            .field("config_source", .string, .required, .sql(.default("stored")))
            .update()
        try await database.createIndex(
            "idx_integration_test_logs_config_source", on: "integration_test_logs",
            columns: ["integration_config_id", "config_source", "created_at"]
        )
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.drop(index: "idx_integration_test_logs_config_source").run()
        }
        try await database.schema("integration_test_logs").deleteField("config_source").update()
    }
}
