import Fluent
import FluentSQL

/// `outbound_messages.contact_id`: the CRM contact a message was sent to (set null when the contact is deleted).
struct UpdateOutboundMessagesAddContact: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("outbound_messages")
            .field("contact_id", .uuid, .references("crm_contacts", "id", onDelete: .setNull))
            .update()
        try await database.createIndex("idx_outbound_messages_contact", on: "outbound_messages", columns: ["contact_id"])
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.drop(index: "idx_outbound_messages_contact").run()
        }
        try await database.schema("outbound_messages").deleteField("contact_id").update()
    }
}
