import Foundation
import Vapor

/// Refuses unsafe requests (POST, PUT, PATCH, DELETE) made with a session cookie unless they carry the
/// session's CSRF token, in the `X-CSRF-Token` header or the `csrf_token` form field: 403 otherwise.
/// Requests authenticated by a bearer token are not exposed to cross-site forgery and pass unchanged.
struct CSRFProtection: AsyncMiddleware {
    /// How a refusal is answered: an HTML page for the admin pages, JSON for the API.
    let page: Bool

    static let headerName = "X-CSRF-Token"
    static let fieldName = "csrf_token"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard Self.isUnsafe(request.method), let session = request.currentSession else {
            return try await next.respond(to: request)
        }
        guard let sent = await Self.sentToken(request), Self.constantTimeEquals(sent, session.csrfToken) else {
            request.logger.notice("refused a request without a valid CSRF token", metadata: ["path": "\(request.url.path)"])
            if page {
                return try await ErrorPages.render(.csrf, status: .forbidden, for: request)
            }
            throw APIError(.forbidden, code: "csrf_failed", message: "Send the session's CSRF token in the X-CSRF-Token header.")
        }
        return try await next.respond(to: request)
    }

    static func isUnsafe(_ method: HTTPMethod) -> Bool {
        ![.GET, .HEAD, .OPTIONS].contains(method)
    }

    static func sentToken(_ request: Request) async -> String? {
        if let header = request.headers.first(name: headerName), !header.isEmpty { return header }
        guard request.headers.contentType == .urlEncodedForm else { return nil }
        // Middleware runs before the route collects the body; collect it here (the route then reuses it).
        if request.body.data == nil {
            _ = try? await request.body.collect(max: 1 << 20).get()
        }
        return try? request.content.get(String.self, at: fieldName)
    }

    static func constantTimeEquals(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8)
        let b = Array(right.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
