import Crypto
import Fluent
import Foundation
import MoeenCore
import Vapor

/// The admin pages' sign-in: a server-side row in `sessions`, found through the `moeen_session` cookie.
enum SessionCookie {
    static let name = "moeen_session"
    /// Idle expiry: a session unused this long is gone.
    static let idleLifetime: TimeInterval = 12 * 3600
    /// `last_seen_at` is written at most this often per session.
    static let touchInterval: TimeInterval = 60

    /// 32 random bytes, base64url.
    static func randomToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Data(token.utf8)))
    }

    static func cookie(_ token: String, secure: Bool) -> HTTPCookies.Value {
        HTTPCookies.Value(string: token, path: "/", isSecure: secure, isHTTPOnly: true, sameSite: .lax)
    }

    static func expired(secure: Bool) -> HTTPCookies.Value {
        HTTPCookies.Value(string: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: "/",
                          isSecure: secure, isHTTPOnly: true, sameSite: .lax)
    }

    /// Starts a session for `user`; returns the cookie token (never stored) and the row.
    static func start(for user: User, on req: Request) async throws -> (token: String, session: UserSession) {
        let token = randomToken()
        let now = Date()
        let session = UserSession()
        session.$user.id = try user.requireID()
        session.tokenHash = hash(token)
        session.csrfToken = randomToken()
        session.ipAddress = req.clientAddress
        session.userAgent = req.headers.first(name: .userAgent).map { String($0.prefix(255)) }
        session.createdAt = now
        session.lastSeenAt = now
        session.expiresAt = now.addingTimeInterval(idleLifetime)
        try await session.create(on: req.db)
        return (token, session)
    }
}

/// The signed-in session of this request, when it came through the cookie.
struct CurrentSession: Sendable {
    let id: UUID
    let csrfToken: String
}

extension Request {
    private struct CurrentSessionKey: StorageKey { typealias Value = CurrentSession }

    var currentSession: CurrentSession? {
        get { storage[CurrentSessionKey.self] }
        set { storage[CurrentSessionKey.self] = newValue }
    }
}

/// Reads the `moeen_session` cookie and logs its user in as `AuthenticatedUser`, so `RequireRole` and the
/// page guards work the same for pages and the JSON API. An unknown, expired or deactivated session is
/// simply not signed in.
struct SessionCookieAuthenticator: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if !request.auth.has(AuthenticatedUser.self) {
            try await authenticate(request)
        }
        return try await next.respond(to: request)
    }

    func authenticate(_ request: Request) async throws {
        guard let token = request.cookies[SessionCookie.name]?.string, !token.isEmpty, token.count < 200 else { return }
        guard let session = try await UserSession.query(on: request.db)
            .filter(\.$tokenHash == SessionCookie.hash(token))
            .with(\.$user)
            .first()
        else { return }
        let now = Date()
        guard session.expiresAt > now else {
            try? await session.delete(on: request.db)
            return
        }
        let user = session.user
        guard user.isActive, let userID = user.id, let sessionID = session.id else { return }
        request.auth.login(AuthenticatedUser(id: userID, email: user.email, name: user.name, role: user.role))
        request.currentSession = CurrentSession(id: sessionID, csrfToken: session.csrfToken)
        if now.timeIntervalSince(session.lastSeenAt) > SessionCookie.touchInterval {
            session.lastSeenAt = now
            session.expiresAt = now.addingTimeInterval(SessionCookie.idleLifetime)
            try? await session.save(on: request.db)
        }
    }
}
