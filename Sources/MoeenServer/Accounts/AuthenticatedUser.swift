import Crypto
import Fluent
import Foundation
import MoeenCore
import Vapor

/// Who is calling, as established by a bearer token or (later) a session cookie.
public struct AuthenticatedUser: Authenticatable, Sendable {
    public let id: UUID
    public let email: String
    public let name: String
    public let role: UserRole
}

/// The bearer tokens of API.md: `mhk_` + 43 base64url characters; only the SHA-256 hex of it is stored.
enum APITokenFormat {
    static let prefix = "mhk_"

    static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Data(token.utf8)))
    }

    /// A non-secret handle shown in listings (`mhk_Ab12Cd…`).
    static func displayPrefix(_ token: String) -> String {
        String(token.prefix(prefix.count + 6))
    }
}

/// Reads `Authorization: Bearer …` and logs the token's user in. An unknown token is left unauthenticated
/// (the route's guard answers 401); a database problem propagates. Tokens checked in the last few seconds
/// are answered from `TokenLookupCache` without a query.
struct BearerTokenAuthenticator: AsyncBearerAuthenticator {
    let cache: TokenLookupCache

    init(cache: TokenLookupCache = TokenLookupCache(lifetime: 0)) {
        self.cache = cache
    }

    func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        guard bearer.token.hasPrefix(APITokenFormat.prefix), bearer.token.count < 200 else { return }
        let hash = APITokenFormat.hash(bearer.token)
        let now = Date()
        if let user = cache.user(forHash: hash, now: now) {
            request.auth.login(user)
            return
        }
        guard let token = try await APIToken.query(on: request.db)
            .filter(\.$tokenHash == hash)
            .with(\.$user)
            .first()
        else { return }
        if let expiry = token.expiresAt, expiry <= now { return }
        let user = token.user
        guard user.isActive, let userID = user.id else { return }
        let authenticated = AuthenticatedUser(id: userID, email: user.email, name: user.name, role: user.role)
        request.auth.login(authenticated)
        cache.remember(hash: hash, user: authenticated, tokenExpiresAt: token.expiresAt, now: now)
        // Record use at most once a minute per token (a cached token is at most a few seconds further on).
        if token.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            token.lastUsedAt = now
            try? await token.save(on: request.db)
        }
    }
}

/// Lets a request through only with an authenticated user of at least `role`: 401 without one, 403 below it.
struct RequireRole: AsyncMiddleware {
    let role: UserRole

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let user = request.auth.get(AuthenticatedUser.self) else { throw APIError.unauthenticated }
        guard user.role.isAtLeast(role) else { throw APIError.forbidden(role.rawValue) }
        return try await next.respond(to: request)
    }
}

extension Request {
    /// The authenticated caller; only valid behind `RequireRole`.
    var currentUser: AuthenticatedUser {
        get throws {
            guard let user = auth.get(AuthenticatedUser.self) else { throw APIError.unauthenticated }
            return user
        }
    }
}
