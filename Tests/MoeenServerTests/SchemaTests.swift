import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import SQLKit
import Testing
import Vapor

/// The data model of ARCHITECTURE.md, written out independently of the migrations.
let expectedSchema: [String: [String]] = [
    "users": ["id", "email", "name", "password_hash", "role", "is_active", "last_login_at", "created_at", "updated_at"],
    "api_tokens": ["id", "user_id", "name", "token_hash", "token_prefix", "last_used_at", "expires_at", "created_at"],
    "sessions": ["id", "user_id", "token_hash", "csrf_token", "ip_address", "user_agent", "expires_at", "last_seen_at", "created_at"],
    "login_throttles": ["throttle_key", "window_start", "attempts"],
    "patients": ["id", "public_id", "full_name", "phone", "email", "date_of_birth", "preferred_channel", "created_at", "updated_at"],
    "audit_logs": ["id", "action", "table_name", "record_id", "old_values", "new_values", "user_id", "created_at"],
    "integration_configs": [
        "id", "public_id", "integration_type", "name", "description", "config", "status", "is_enabled", "last_test_at",
        "last_test_status", "last_test_message", "health_score", "metadata", "created_by", "updated_by", "created_at", "updated_at",
    ],
    "integration_test_logs": [
        "id", "public_id", "integration_config_id", "integration_type", "test_type", "status", "request_data",
        "response_data", "error_message", "duration_ms", "tested_by", "created_at",
    ],
    "crm_contacts": [
        "id", "public_id", "first_name", "last_name", "email", "phone", "company", "position", "status", "source", "notes",
        "tags", "address", "social_media", "last_contact_at", "next_follow_up_at", "metadata", "created_at", "updated_at",
    ],
    "crm_leads": ["id", "public_id", "name", "email", "phone", "company", "status", "source", "value", "probability", "notes", "tags", "created_at", "updated_at"],
    "crm_deals": [
        "id", "public_id", "title", "contact_id", "contact_name", "value", "stage", "probability", "expected_close_date",
        "notes", "tags", "created_at", "updated_at",
    ],
    "crm_contact_activities": ["id", "public_id", "contact_id", "activity_type", "subject", "description", "activity_date", "created_at"],
    "progress_goals": ["id", "public_id", "patient_id", "goal_title", "description", "target_date", "progress_percentage", "status", "created_at", "updated_at"],
    "progress_assessments": ["id", "public_id", "patient_id", "assessment_type", "assessment_date", "score", "notes", "assessor_id", "created_at"],
    "progress_reports": ["id", "public_id", "patient_id", "report_title", "report_date", "summary", "details", "created_at"],
    "training_programs": [
        "id", "public_id", "program_name", "description", "duration_weeks", "difficulty_level", "program_type", "content",
        "is_active", "created_at", "updated_at",
    ],
    "training_progress": ["id", "public_id", "patient_id", "program_id", "start_date", "completion_percentage", "status", "notes", "created_at", "updated_at"],
    "family_members": ["id", "public_id", "patient_id", "name", "relationship", "phone", "email", "is_primary_contact", "notes", "created_at"],
    "support_sessions": [
        "id", "public_id", "patient_id", "session_title", "session_date", "session_time", "duration_minutes", "session_type",
        "facilitator_id", "notes", "created_at",
    ],
    "resources": [
        "id", "public_id", "resource_title", "resource_type", "description", "url", "file_path", "category", "tags",
        "is_public", "created_at", "updated_at",
    ],
]

func columns(of table: String, in db: any Database) async throws -> Set<String> {
    let sql = try #require(db as? any SQLDatabase)
    struct Column: Decodable { let name: String }
    let rows: [Column]
    if sql.dialect.name == "postgresql" {
        rows = try await sql.raw("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = \(bind: table)")
            .all(decoding: Column.self)
    } else {
        rows = try await sql.raw("SELECT name FROM pragma_table_info(\(bind: table))").all(decoding: Column.self)
    }
    return Set(rows.map(\.name))
}

@Suite("Data model")
struct SchemaTests {
    @Test("every table and column of the data model exists")
    func everyTableAndColumn() async throws {
        try await withMoeenApp { app in
            for (table, expected) in expectedSchema {
                let actual = try await columns(of: table, in: app.db)
                #expect(!actual.isEmpty, "table \(table) is missing")
                let missing = Set(expected).subtracting(actual)
                #expect(missing.isEmpty, "\(table) lacks \(missing.sorted())")
            }
        }
    }

    @Test("the first migration leaves the seven default integrations, inactive, health 0, empty settings")
    func sevenDefaults() async throws {
        try await withMoeenApp { app in
            let rows = try await IntegrationConfig.query(on: app.db).all()
            #expect(Set(rows.map(\.integrationType)) == ["whatsapp", "sms", "email", "google_calendar", "slack", "seha", "tatman"])
            #expect(Set(rows.map(\.name)) == [
                "WhatsApp Business API", "Twilio SMS Gateway", "SendGrid Email Service", "Google Calendar Integration",
                "Slack Notifications", "Seha Platform Integration", "Tatman Insurance",
            ])
            for row in rows {
                #expect(row.status == "inactive")
                #expect(row.isEnabled == false)
                #expect(row.healthScore == 0)
                #expect(row.config == .object([:]))
                #expect(row.publicID.hasPrefix("int_"))
            }
        }
    }

    @Test("the database itself refuses values outside the allowed sets and ranges")
    func databaseConstraints() async throws {
        try await withMoeenApp { app in
            let sql = try #require(app.db as? any SQLDatabase)
            let id = try #require(try await IntegrationConfig.query(on: app.db).first()?.requireID())
            await #expect(throws: (any Error).self) {
                try await sql.raw("UPDATE integration_configs SET status = 'bogus' WHERE id = \(bind: id)").run()
            }
            await #expect(throws: (any Error).self) {
                try await sql.raw("UPDATE integration_configs SET health_score = 101 WHERE id = \(bind: id)").run()
            }
            // (integration_type, name) is unique.
            let existing = try #require(try await IntegrationConfig.find(id, on: app.db))
            let copy = IntegrationConfig()
            copy.publicID = PublicID.make(.integration)
            copy.integrationType = existing.integrationType
            copy.name = existing.name
            copy.config = .object([:])
            copy.status = "inactive"
            copy.isEnabled = false
            copy.healthScore = 0
            copy.metadata = .object([:])
            await #expect(throws: (any Error).self) { try await copy.create(on: app.db) }
        }
    }

    @Test("deleting a contact keeps its deals (set null) and removes its activities (cascade)")
    func deleteRules() async throws {
        try await withMoeenApp { app in
            let contact = CRMContact()
            contact.publicID = PublicID.make(.contact)
            contact.firstName = "Noura"
            contact.status = "lead"
            contact.tags = []
            contact.socialMedia = [:]
            contact.metadata = [:]
            try await contact.create(on: app.db)
            let deal = CRMDeal()
            deal.publicID = PublicID.make(.deal)
            deal.title = "Therapy package"
            deal.$contact.id = try contact.requireID()
            deal.stage = "proposal"
            deal.probability = 40
            deal.tags = []
            try await deal.create(on: app.db)
            let sql = try #require(app.db as? any SQLDatabase)
            try await sql.raw("""
                INSERT INTO crm_contact_activities (id, public_id, contact_id, activity_type, activity_date, created_at, updated_at)
                VALUES (\(bind: UUID()), \(bind: PublicID.make(.contactActivity)), \(bind: try contact.requireID()), 'call', \(bind: Date()), \(bind: Date()), \(bind: Date()))
                """).run()

            try await contact.delete(on: app.db)
            let reloaded = try #require(try await CRMDeal.find(try deal.requireID(), on: app.db))
            #expect(reloaded.$contact.id == nil)
            struct Count: Decodable { let n: Int }
            let remaining = try await sql.raw("SELECT COUNT(*) AS n FROM crm_contact_activities").first(decoding: Count.self)
            #expect(remaining?.n == 0)
        }
    }

    @Test("money and JSON round-trip exactly")
    func exactRoundTrip() async throws {
        try await withMoeenApp { app in
            let metadata: JSONValue = [
                "nested": ["list": [1, "two", .number("3.000000000000000001"), true, nil]],
                "arabic": "مركز الهمم",
                "big": .number("12345678901234567890"),
                "small": .number("0.1"),
            ]
            let deal = CRMDeal()
            deal.publicID = PublicID.make(.deal)
            deal.title = "Round trip"
            deal.value = Money("1234567890.05")
            deal.stage = "prospecting"
            deal.probability = 0
            deal.tags = ["a", "ب", metadata]
            try await deal.create(on: app.db)

            let contact = CRMContact()
            contact.publicID = PublicID.make(.contact)
            contact.firstName = "Round"
            contact.status = "customer"
            contact.tags = []
            contact.socialMedia = ["x": "@moeen"]
            contact.metadata = metadata
            try await contact.create(on: app.db)

            let deal2 = try #require(try await CRMDeal.find(try deal.requireID(), on: app.db))
            #expect(deal2.value?.description == "1234567890.05")
            #expect(deal2.tags == ["a", "ب", metadata])
            let contact2 = try #require(try await CRMContact.find(try contact.requireID(), on: app.db))
            #expect(contact2.metadata == metadata)
            #expect(contact2.socialMedia == ["x": "@moeen"])
        }
    }
}
