import Fluent
import FluentSQL

/// The CRM tables of the original's migration 054.
enum CRMValues {
    static let contactStatuses = ["lead", "prospect", "customer", "inactive"]
    static let leadStatuses = ["new", "contacted", "qualified", "proposal", "negotiation", "closed-won", "closed-lost"]
    static let dealStages = ["prospecting", "qualification", "proposal", "negotiation", "closed-won", "closed-lost"]
    static let activityTypes = ["call", "email", "meeting", "note"]
}

struct CreateCRMContacts: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("crm_contacts")
            .id()
            .publicID()
            .field("first_name", .string, .required)
            .field("last_name", .string)
            .field("email", .string)
            .field("phone", .string)
            .field("company", .string)
            .field("position", .string)
            .field("status", .string, .required, .sql(.default("lead")))
            .field("source", .string)
            .field("notes", .string)
            .field("tags", database.jsonType, .required, database.jsonDefault("[]"))
            .field("address", .string)
            .field("social_media", database.jsonType, .required, database.jsonDefault("{}"))
            .field("last_contact_at", .datetime)
            .field("next_follow_up_at", .datetime)
            .field("metadata", database.jsonType, .required, database.jsonDefault("{}"))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("status", CRMValues.contactStatuses, table: "crm_contacts")
            .create()
        try await database.createIndex("idx_crm_contacts_status", on: "crm_contacts", columns: ["status"])
        try await database.createIndex("idx_crm_contacts_email", on: "crm_contacts", columns: ["email"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("crm_contacts").delete()
    }
}

struct CreateCRMLeads: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("crm_leads")
            .id()
            .publicID()
            .field("name", .string, .required)
            .field("email", .string)
            .field("phone", .string)
            .field("company", .string)
            .field("status", .string, .required, .sql(.default("new")))
            .field("source", .string)
            .field("value", database.moneyType)
            .field("probability", .int, .required, .sql(.default(0)))
            .field("notes", .string)
            .field("tags", database.jsonType, .required, database.jsonDefault("[]"))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("status", CRMValues.leadStatuses, table: "crm_leads")
            .percentage("probability", table: "crm_leads")
            .create()
        try await database.createIndex("idx_crm_leads_status", on: "crm_leads", columns: ["status"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("crm_leads").delete()
    }
}

struct CreateCRMDeals: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("crm_deals")
            .id()
            .publicID()
            .field("title", .string, .required)
            .field("contact_id", .uuid, .references("crm_contacts", "id", onDelete: .setNull))
            .field("contact_name", .string)
            .field("value", database.moneyType)
            .field("stage", .string, .required, .sql(.default("prospecting")))
            .field("probability", .int, .required, .sql(.default(0)))
            .field("expected_close_date", .date)
            .field("notes", .string)
            .field("tags", database.jsonType, .required, database.jsonDefault("[]"))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("stage", CRMValues.dealStages, table: "crm_deals")
            .percentage("probability", table: "crm_deals")
            .create()
        try await database.createIndex("idx_crm_deals_stage", on: "crm_deals", columns: ["stage"])
        try await database.createIndex("idx_crm_deals_contact_id", on: "crm_deals", columns: ["contact_id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("crm_deals").delete()
    }
}

struct CreateCRMContactActivities: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("crm_contact_activities")
            .id()
            .publicID()
            .field("contact_id", .uuid, .required, .references("crm_contacts", "id", onDelete: .cascade))
            .field("activity_type", .string, .required)
            .field("subject", .string)
            .field("description", .string)
            .field("activity_date", .datetime, .required)
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("activity_type", CRMValues.activityTypes, table: "crm_contact_activities")
            .create()
        try await database.createIndex(
            "idx_crm_contact_activities_contact", on: "crm_contact_activities", columns: ["contact_id", "activity_date"]
        )
    }

    func revert(on database: any Database) async throws {
        try await database.schema("crm_contact_activities").delete()
    }
}
