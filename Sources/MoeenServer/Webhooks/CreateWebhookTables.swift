import Fluent
import FluentSQL
import SQLKit

/// `webhook_events`: every verified event a provider sent, stored before the 200, once per provider event id.
/// Processing (status updates, inbound replies) happens afterwards and sets `processed_at` in the same
/// transaction as its effects, so each event is applied exactly once, even across a restart.
struct CreateWebhookEvents: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let table = "webhook_events"
        try await database.schema(table)
            .id()
            .publicID()
            .field("provider", .string, .required)
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .cascade))
            .field("event_id", .string, .required)
            .field("event_type", .string, .required)
            .field("payload", database.jsonType, .required)
            .field("received_at", .datetime, .required)
            .field("process_after", .datetime, .required)
            .field("processed_at", .datetime)
            .field("outcome", .string)
            .field("processing_error", .string)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "integration_config_id", "event_id", name: "uq_webhook_events_integration_event")
            .allowed("provider", ["whatsapp", "twilio", "sendgrid", "slack", "google-calendar", "seha", "tatman"], table: table)
            .create()
        try await database.createIndex("idx_webhook_events_pending", on: table, columns: ["processed_at", "process_after"])
        try await database.createIndex("idx_webhook_events_integration", on: table, columns: ["integration_config_id", "created_at", "id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("webhook_events").delete()
    }
}

/// `inbound_messages`: replies received through webhooks, matched to a patient or CRM contact by phone.
struct CreateInboundMessages: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let table = "inbound_messages"
        try await database.schema(table)
            .id()
            .publicID()
            .field("channel", .string, .required)
            .field("integration_config_id", .uuid, .references("integration_configs", "id", onDelete: .setNull))
            .field("webhook_event_id", .uuid, .references("webhook_events", "id", onDelete: .setNull))
            .field("from_address", .string, .required)
            .field("to_address", .string)
            .field("text", .string)
            .field("provider_message_id", .string)
            .field("received_at", .datetime, .required)
            .field("patient_id", .uuid, .references("patients", "id", onDelete: .setNull))
            .field("contact_id", .uuid, .references("crm_contacts", "id", onDelete: .setNull))
            .field("opt_out_action", .string)
            .timestamps()
            .allowed("channel", ["whatsapp", "sms"], table: table)
            .create()
        try await database.createIndex("idx_inbound_messages_created", on: table, columns: ["created_at", "id"])
        try await database.createIndex("idx_inbound_messages_from", on: table, columns: ["from_address"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("inbound_messages").delete()
    }
}

/// `webhook_rejections`: per integration, how many requests failed signature checks (nothing else is kept).
struct CreateWebhookRejections: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("webhook_rejections")
            .field("integration_config_id", .uuid, .identifier(auto: false),
                   .references("integration_configs", "id", onDelete: .cascade))
            .field("count", .int64, .required, .sql(.default(0)))
            .field("last_reason", .string)
            .field("last_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("webhook_rejections").delete()
    }
}
