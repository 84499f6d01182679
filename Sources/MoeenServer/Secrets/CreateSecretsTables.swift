import Fluent
import FluentSQL

/// `integration_data_keys`: each integration row's data key, wrapped by the key provider and tagged with
/// the wrapping key's id and version (ARCHITECTURE.md "Secrets").
struct CreateIntegrationDataKeys: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("integration_data_keys")
            .id()
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .cascade))
            .field("provider", .string, .required)
            .field("key_id", .string, .required)
            .field("key_version", .int, .required)
            .field("wrapped_key", .string, .required)
            .timestamps()
            .unique(on: "integration_config_id")
            .allowed("provider", ["local", "aws-kms", "vault"], table: "integration_data_keys")
            .create()
        try await database.createIndex("idx_integration_data_keys_key", on: "integration_data_keys", columns: ["provider", "key_id", "key_version"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_data_keys").delete()
    }
}

/// `key_rotations`: one row per `moeen keys rotate` run, so a run can be resumed and the Security tab can
/// say when keys were last rotated.
struct CreateKeyRotations: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("key_rotations")
            .id()
            .field("provider", .string, .required)
            .field("target_key_id", .string, .required)
            .field("target_key_version", .int, .required)
            .field("reencrypt", .bool, .required)
            .field("status", .string, .required)
            .field("rows_total", .int, .required, .sql(.default(0)))
            .field("rows_done", .int, .required, .sql(.default(0)))
            .field("error_message", .string)
            .field("started_at", .datetime, .required)
            .field("finished_at", .datetime)
            .allowed("status", ["running", "completed", "failed"], table: "key_rotations")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("key_rotations").delete()
    }
}

/// `integration_health_history`: the score after each test or probe, for the health chart and trends.
struct CreateIntegrationHealthHistory: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("integration_health_history")
            .id()
            .field("integration_config_id", .uuid, .required, .references("integration_configs", "id", onDelete: .cascade))
            .field("score", .int, .required)
            .field("status", .string, .required)
            .field("recorded_at", .datetime, .required)
            .percentage("score", table: "integration_health_history")
            .create()
        try await database.createIndex(
            "idx_integration_health_history_config", on: "integration_health_history",
            columns: ["integration_config_id", "recorded_at"]
        )
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_health_history").delete()
    }
}
