import Fluent
import FluentSQL

/// The care-tracking tables of the original's migration 054.
enum CareValues {
    static let goalStatuses = ["active", "completed", "paused", "cancelled"]
    static let difficultyLevels = ["beginner", "intermediate", "advanced"]
    static let trainingStatuses = ["not_started", "in_progress", "completed", "paused"]
    static let resourceTypes = ["document", "video", "article", "guide", "form", "other"]
}

struct CreateProgressGoals: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("progress_goals")
            .id()
            .publicID()
            .field("patient_id", .uuid, .required, .references("patients", "id", onDelete: .cascade))
            .field("goal_title", .string, .required)
            .field("description", .string)
            .field("target_date", .date)
            .field("progress_percentage", .int, .required, .sql(.default(0)))
            .field("status", .string, .required, .sql(.default("active")))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .percentage("progress_percentage", table: "progress_goals")
            .allowed("status", CareValues.goalStatuses, table: "progress_goals")
            .create()
        try await database.createIndex("idx_progress_goals_patient", on: "progress_goals", columns: ["patient_id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("progress_goals").delete()
    }
}

struct CreateProgressAssessments: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("progress_assessments")
            .id()
            .publicID()
            .field("patient_id", .uuid, .required, .references("patients", "id", onDelete: .cascade))
            .field("assessment_type", .string, .required)
            .field("assessment_date", .date, .required)
            .field("score", database.moneyType)
            .field("notes", .string)
            .field("assessor_id", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .create()
        try await database.createIndex("idx_progress_assessments_patient", on: "progress_assessments", columns: ["patient_id", "assessment_date"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("progress_assessments").delete()
    }
}

struct CreateProgressReports: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("progress_reports")
            .id()
            .publicID()
            .field("patient_id", .uuid, .required, .references("patients", "id", onDelete: .cascade))
            .field("report_title", .string, .required)
            .field("report_date", .date, .required)
            .field("summary", .string)
            .field("details", database.jsonType, .required, database.jsonDefault("{}"))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .create()
        try await database.createIndex("idx_progress_reports_patient", on: "progress_reports", columns: ["patient_id", "report_date"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("progress_reports").delete()
    }
}

struct CreateTrainingPrograms: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("training_programs")
            .id()
            .publicID()
            .field("program_name", .string, .required)
            .field("description", .string)
            .field("duration_weeks", .int)
            .field("difficulty_level", .string, .required, .sql(.default("beginner")))
            .field("program_type", .string)
            .field("content", database.jsonType, .required, database.jsonDefault("{}"))
            .field("is_active", .bool, .required, .sql(.default(true)))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("difficulty_level", CareValues.difficultyLevels, table: "training_programs")
            .check("ck_training_programs_duration_weeks", "duration_weeks IS NULL OR duration_weeks > 0")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("training_programs").delete()
    }
}

struct CreateTrainingProgress: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("training_progress")
            .id()
            .publicID()
            .field("patient_id", .uuid, .required, .references("patients", "id", onDelete: .cascade))
            .field("program_id", .uuid, .required, .references("training_programs", "id", onDelete: .cascade))
            .field("start_date", .date)
            .field("completion_percentage", .int, .required, .sql(.default(0)))
            .field("status", .string, .required, .sql(.default("not_started")))
            .field("notes", .string)
            .timestamps()
            .unique(on: "patient_id", "program_id", name: "uq_training_progress_patient_program")
            .percentage("completion_percentage", table: "training_progress")
            .allowed("status", CareValues.trainingStatuses, table: "training_progress")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("training_progress").delete()
    }
}

struct CreateFamilyMembers: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("family_members")
            .id()
            .publicID()
            .field("patient_id", .uuid, .required, .references("patients", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("relationship", .string, .required)
            .field("phone", .string)
            .field("email", .string)
            .field("is_primary_contact", .bool, .required, .sql(.default(false)))
            .field("notes", .string)
            .timestamps()
            .create()
        try await database.createIndex("idx_family_members_patient", on: "family_members", columns: ["patient_id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("family_members").delete()
    }
}

struct CreateSupportSessions: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("support_sessions")
            .id()
            .publicID()
            .field("patient_id", .uuid, .references("patients", "id", onDelete: .cascade))
            .field("session_title", .string, .required)
            .field("session_date", .date, .required)
            .field("session_time", .string)
            .field("duration_minutes", .int)
            .field("session_type", .string)
            .field("facilitator_id", .uuid, .references("users", "id", onDelete: .setNull))
            .field("notes", .string)
            .timestamps()
            .check("ck_support_sessions_duration_minutes", "duration_minutes IS NULL OR duration_minutes > 0")
            .create()
        try await database.createIndex("idx_support_sessions_date", on: "support_sessions", columns: ["session_date"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("support_sessions").delete()
    }
}

struct CreateResources: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("resources")
            .id()
            .publicID()
            .field("resource_title", .string, .required)
            .field("resource_type", .string, .required)
            .field("description", .string)
            .field("url", .string)
            .field("file_path", .string)
            .field("category", .string)
            .field("tags", database.jsonType, .required, database.jsonDefault("[]"))
            .field("is_public", .bool, .required, .sql(.default(false)))
            .field("created_by", .uuid, .references("users", "id", onDelete: .setNull))
            .timestamps()
            .allowed("resource_type", CareValues.resourceTypes, table: "resources")
            .create()
        try await database.createIndex("idx_resources_category", on: "resources", columns: ["category"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("resources").delete()
    }
}
