import Fluent
import Foundation

/// A row of `sessions`: one signed-in browser. The cookie holds a random token; only its SHA-256 is stored.
/// (Named `UserSession`, not `Session`, so it never shadows Vapor's own `Session`.)
final class UserSession: Model, @unchecked Sendable {
    static let schema = "sessions"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "csrf_token") var csrfToken: String
    @OptionalField(key: "ip_address") var ipAddress: String?
    @OptionalField(key: "user_agent") var userAgent: String?
    @Field(key: "expires_at") var expiresAt: Date
    @Field(key: "last_seen_at") var lastSeenAt: Date
    @Field(key: "created_at") var createdAt: Date

    init() {}
}
