import Fluent
import FluentSQL
import SQLKit

/// `integration_delivery_states`: per integration, the rate limiter's theoretical arrival time (Unix ms), the
/// provider's back-pressure (`backoff_until`, from a 429's Retry-After) and the circuit breaker. In the
/// database so that every process sharing it obeys one limit and one breaker.
struct CreateIntegrationDeliveryStates: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let table = "integration_delivery_states"
        try await database.schema(table)
            .field("integration_config_id", .uuid, .identifier(auto: false),
                   .references("integration_configs", "id", onDelete: .cascade))
            .field("tat_ms", .int64, .required, .sql(.default(0)))
            .field("state", .string, .required, .sql(.default("active")))
            .field("reason", .string)
            .field("paused_until", .datetime)
            .field("backoff_until", .datetime)
            .field("consecutive_failures", .int, .required, .sql(.default(0)))
            .field("trial_owner", .string)
            .field("trial_expires_at", .datetime)
            .field("updated_at", .datetime, .required)
            .allowed("state", ["active", "paused", "half_open"], table: table)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_delivery_states").delete()
    }
}

/// `recipient_opt_outs`: people who asked not to be messaged on a channel; addresses stored normalised.
struct CreateRecipientOptOuts: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let table = "recipient_opt_outs"
        try await database.schema(table)
            .id()
            .publicID()
            .field("channel", .string, .required)
            .field("address", .string, .required)
            .field("reason", .string)
            .field("source", .string, .required, .sql(.default("operator")))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .unique(on: "channel", "address", name: "uq_recipient_opt_outs_channel_address")
            .allowed("channel", ["whatsapp", "sms", "email", "slack"], table: table)
            .create()
        try await database.createIndex("idx_recipient_opt_outs_created", on: table, columns: ["created_at", "id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("recipient_opt_outs").delete()
    }
}

/// `app_settings`: centre-wide settings as JSON by key (`delivery`: quiet hours).
struct CreateAppSettings: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("app_settings")
            .field("key", .string, .identifier(auto: false))
            .field("value", database.jsonType, .required)
            .field("updated_by", .uuid, .references("users", "id", onDelete: .setNull))
            .field("updated_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("app_settings").delete()
    }
}

/// Channel fallback on `outbound_messages`: the channels still to try, their recipients, the deadline for
/// delivery, and whether the fallback was made (so it is made once).
struct UpdateOutboundMessagesAddFallback: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        try await database.schema("outbound_messages").field("fallback_channels", database.jsonType).update()
        try await database.schema("outbound_messages").field("fallback_to", database.jsonType).update()
        try await database.schema("outbound_messages").field("fallback_after", .int).update()
        try await database.schema("outbound_messages").field("fallback_due_at", .datetime).update()
        try await database.schema("outbound_messages")
            .field("fallback_done", .bool, .required, .sql(.default(false))).update()
        try await database.createIndex("idx_outbound_messages_fallback_due", on: "outbound_messages",
                                       columns: ["fallback_done", "fallback_due_at"])
        try await database.createIndex("idx_outbound_messages_recipient", on: "outbound_messages",
                                       columns: ["channel", "recipient", "status"])
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.drop(index: "idx_outbound_messages_fallback_due").run()
            try await sql.drop(index: "idx_outbound_messages_recipient").run()
        }
        for field in ["fallback_channels", "fallback_to", "fallback_after", "fallback_due_at", "fallback_done"] {
            try await database.schema("outbound_messages").deleteField(.key(.init(stringLiteral: field))).update()
        }
    }
}
