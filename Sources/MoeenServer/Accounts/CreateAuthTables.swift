import Fluent
import FluentSQL

/// `users`: the people who sign in (the original's minimal users table).
struct CreateUsers: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("users")
            .id()
            .field("email", .string, .required)
            .field("name", .string, .required)
            .field("password_hash", .string, .required)
            .field("role", .string, .required, .sql(.default("viewer")))
            .field("is_active", .bool, .required, .sql(.default(true)))
            .field("last_login_at", .datetime)
            .timestamps()
            .unique(on: "email")
            .allowed("role", UserRole.allCases.map(\.rawValue), table: "users")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("users").delete()
    }
}

/// `api_tokens`: bearer tokens, stored as SHA-256 hashes only.
struct CreateAPITokens: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("api_tokens")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("token_hash", .string, .required)
            .field("token_prefix", .string, .required)
            .field("last_used_at", .datetime)
            .field("expires_at", .datetime)
            .field("created_at", .datetime, .required)
            .unique(on: "token_hash")
            .create()
        try await database.createIndex("idx_api_tokens_user_id", on: "api_tokens", columns: ["user_id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("api_tokens").delete()
    }
}

/// `sessions`: admin-page sign-ins, server side; the cookie holds a random token whose hash is stored.
struct CreateSessions: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("sessions")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("token_hash", .string, .required)
            .field("csrf_token", .string, .required)
            .field("ip_address", .string)
            .field("user_agent", .string)
            .field("expires_at", .datetime, .required)
            .field("last_seen_at", .datetime, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "token_hash")
            .create()
        try await database.createIndex("idx_sessions_user_id", on: "sessions", columns: ["user_id"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("sessions").delete()
    }
}

/// `setup_tokens`: the one-time link that creates the first admin.
struct CreateSetupTokens: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("setup_tokens")
            .id()
            .field("token_hash", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .field("created_at", .datetime, .required)
            .unique(on: "token_hash")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("setup_tokens").delete()
    }
}

/// `login_throttles`: sign-in attempts per client address and per account in the current window, shared by
/// every process on the database (see `LoginRateLimiter`). Keys are SHA-256 hashes, so neither e-mail
/// addresses nor client addresses are stored.
struct CreateLoginThrottles: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("login_throttles")
            .field("throttle_key", .string, .identifier(auto: false))
            .field("window_start", .datetime, .required)
            .field("attempts", .int, .required)
            .create()
        try await database.createIndex("idx_login_throttles_window_start", on: "login_throttles", columns: ["window_start"])
    }

    func revert(on database: any Database) async throws {
        try await database.schema("login_throttles").delete()
    }
}
