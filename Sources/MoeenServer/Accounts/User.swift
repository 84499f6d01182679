import Fluent
import Foundation
import Vapor

/// The roles of API.md: admin everything; manager reads integrations, runs tests, sends; staff sends and
/// keeps CRM/care data; viewer reads only.
public enum UserRole: String, Codable, Sendable, CaseIterable {
    case admin, manager, staff, viewer

    /// The roles' order of power, for "at least" checks.
    var rank: Int {
        switch self {
        case .viewer: 0
        case .staff: 1
        case .manager: 2
        case .admin: 3
        }
    }

    public func isAtLeast(_ other: UserRole) -> Bool { rank >= other.rank }
}

final class User: Model, @unchecked Sendable {
    static let schema = "users"

    @ID(key: .id) var id: UUID?
    @Field(key: "email") var email: String
    @Field(key: "name") var name: String
    @Field(key: "password_hash") var passwordHash: String
    @Enum(key: "role") var role: UserRole
    @Field(key: "is_active") var isActive: Bool
    @OptionalField(key: "last_login_at") var lastLoginAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(email: String, name: String, passwordHash: String, role: UserRole) {
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.role = role
        self.isActive = true
    }
}

final class APIToken: Model, @unchecked Sendable {
    static let schema = "api_tokens"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "name") var name: String
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "token_prefix") var tokenPrefix: String
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "expires_at") var expiresAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

final class SetupToken: Model, @unchecked Sendable {
    static let schema = "setup_tokens"

    @ID(key: .id) var id: UUID?
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}
