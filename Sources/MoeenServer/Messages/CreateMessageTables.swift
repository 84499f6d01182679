import Fluent
import FluentSQL
import SQLKit

/// `outbound_messages`: the outbox. One row per message a user or the system asked to send; the dispatcher
/// claims due rows with a lease and records every outcome on the row and in `message_events`.
struct CreateOutboundMessages: AsyncMigration {
    /// Frozen with this migration (a later status needs a migration of its own).
    static let statuses = ["queued", "sending", "sent", "delivered", "read", "failed", "dead", "cancelled"]

    func prepare(on database: any Database) async throws {
        let table = "outbound_messages"
        try await database.schema(table)
            .id()
            .publicID()
            .field("channel", .string, .required)
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .restrict))
            .field("patient_id", .uuid, .references("patients", "id", onDelete: .setNull))
            .field("parent_id", .uuid, .references(table, "id", onDelete: .setNull))
            .field("recipient", .string, .required)
            .field("text", .string)
            .field("subject", .string)
            .field("html", .string)
            .field("template", database.jsonType)
            .field("priority", .string, .required, .sql(.default("normal")))
            .field("status", .string, .required)
            .field("attempts", .int, .required, .sql(.default(0)))
            .field("max_attempts", .int, .required)
            .field("next_attempt_at", .datetime)
            .field("lease_owner", .string)
            .field("lease_expires_at", .datetime)
            .field("last_error", .string)
            .field("last_error_code", .string)
            .field("provider_message_id", .string)
            .field("idempotency_key", .string)
            .field("request_hash", .string)
            .field("scheduled_at", .datetime)
            .field("sent_at", .datetime)
            .field("delivered_at", .datetime)
            .field("read_at", .datetime)
            .field("failed_at", .datetime)
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("channel", ["whatsapp", "sms", "email", "slack"], table: table)
            .allowed("status", Self.statuses, table: table)
            .allowed("priority", ["normal", "urgent"], table: table)
            .check("ck_\(table)_attempts", "attempts >= 0 AND max_attempts >= 1")
            .create()
        // The dispatcher's claim (due queued rows by time) and lease recovery (expired `sending` rows).
        try await database.createIndex("idx_outbound_messages_due", on: table, columns: ["status", "next_attempt_at"])
        try await database.createIndex("idx_outbound_messages_lease", on: table, columns: ["status", "lease_expires_at"])
        // Listing newest first, and the filters.
        try await database.createIndex("idx_outbound_messages_created", on: table, columns: ["created_at", "id"])
        try await database.createIndex("idx_outbound_messages_integration", on: table, columns: ["integration_config_id"])
        try await database.createIndex("idx_outbound_messages_patient", on: table, columns: ["patient_id"])
        try await database.createIndex("idx_outbound_messages_provider_id", on: table, columns: ["provider_message_id"])
        // One message per (user, Idempotency-Key); rows without a key (NULL) never clash.
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "uq_outbound_messages_idempotency").unique().on(table)
            .column("created_by").column("idempotency_key").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("outbound_messages").delete()
    }
}

/// `message_events`: every state change of a message, with who caused it.
struct CreateMessageEvents: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let table = "message_events"
        try await database.schema(table)
            .id()
            .field("message_id", .uuid, .required, .references("outbound_messages", "id", onDelete: .cascade))
            .field("at", .datetime, .required)
            .field("status", .string, .required)
            .field("source", .string, .required)
            .field("detail", .string)
            .allowed("status", CreateOutboundMessages.statuses, table: table)
            .allowed("source", ["api", "dispatcher", "webhook", "operator"], table: table)
            .create()
        try await database.createIndex("idx_message_events_message", on: table, columns: ["message_id", "at"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("message_events").delete()
    }
}
