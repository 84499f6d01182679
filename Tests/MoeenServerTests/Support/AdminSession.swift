import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// A signed-in browser for admin page tests: the session cookie and the session's CSRF token.
struct BrowserSession {
    let cookie: String
    let csrf: String
    let userID: UUID
    let email: String

    /// Headers of a page request (cookie only).
    var headers: HTTPHeaders { ["Cookie": "\(SessionCookie.name)=\(cookie)"] }

    /// Headers of a form post; with `csrf: false` the token is left out.
    func form(_ fields: [String: String], csrf withToken: Bool = true) -> (HTTPHeaders, [String: String]) {
        var body = fields
        if withToken { body["csrf_token"] = csrf }
        return (headers, body)
    }
}

extension Application {
    /// Creates a user with `role` and a session for it directly in the database (the sign-in flow itself
    /// has its own tests).
    func browserSession(role: UserRole, email: String? = nil) async throws -> BrowserSession {
        let address = email ?? "\(role.rawValue)-\(UUID().uuidString.prefix(8).lowercased())@example.org"
        let user = try await accounts.createUser(email: address, name: "Test \(role.rawValue)", role: role, password: "correct horse battery")
        let token = SessionCookie.randomToken()
        let session = UserSession()
        session.$user.id = try user.requireID()
        session.tokenHash = SessionCookie.hash(token)
        session.csrfToken = SessionCookie.randomToken()
        session.createdAt = Date()
        session.lastSeenAt = Date()
        session.expiresAt = Date().addingTimeInterval(SessionCookie.idleLifetime)
        try await session.create(on: db)
        return BrowserSession(cookie: token, csrf: session.csrfToken, userID: try user.requireID(), email: address)
    }

    /// The public id of the seeded integration of `type`.
    func integrationID(_ type: String) async throws -> String {
        let row = try await IntegrationConfig.query(on: db).filter(\.$integrationType == type).first()
        return try #require(row).publicID
    }

    /// Posts a URL-encoded form.
    func postForm(_ path: String, _ fields: [String: String], headers: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        try await testing().sendRequest(.POST, path, headers: headers) { req in
            try req.content.encode(fields, as: .urlEncodedForm)
        }
    }

    /// GETs a page.
    func page(_ path: String, headers: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        try await testing().sendRequest(.GET, path, headers: headers)
    }
}

extension TestingHTTPResponse {
    var html: String { body.string }
    var location: String? { headers.first(name: .location) }

    /// The value a `Set-Cookie` header gives `name`, and the header's full text.
    func setCookie(_ name: String) -> (value: String, header: String)? {
        for header in headers[.setCookie] where header.hasPrefix(name + "=") {
            let value = header.dropFirst(name.count + 1).prefix { $0 != ";" }
            return (String(value), header)
        }
        return nil
    }
}
