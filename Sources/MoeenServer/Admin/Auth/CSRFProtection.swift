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
        guard let sent = try await Self.sentToken(request), Self.constantTimeEquals(sent, session.csrfToken) else {
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

    /// The token sent in the header, or else in the form body. Reading the form body means collecting it
    /// here, before the route would: it is collected up to the route's own limit (`formBodyLimit`, set by
    /// `formPost`; `defaultFormBodyLimit` for routes that declare none), never more, so a small limit such as
    /// the sign-in form's holds for signed-in posts too. A larger body is refused with 413.
    static func sentToken(_ request: Request) async throws -> String? {
        if let header = request.headers.first(name: headerName), !header.isEmpty { return header }
        guard request.headers.contentType == .urlEncodedForm else { return nil }
        if request.body.data == nil {
            let limit = request.route?.formBodyLimit ?? defaultFormBodyLimit
            _ = try await request.eventLoop.flatSubmit { request.body.collect(max: limit.value) }.get()
        }
        return try? request.content.get(String.self, at: fieldName)
    }

    /// The collection limit for form routes that declare none: the smallest of the admin pages' form
    /// limits, so that no route's limit is exceeded by the check.
    static let defaultFormBodyLimit: ByteCount = "16kb"

    static func constantTimeEquals(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8)
        let b = Array(right.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

extension Route {
    private static let formBodyLimitKey = "moeen.formBodyLimit"

    /// The body limit a form route was registered with (see `RoutesBuilder.formPost`), which
    /// `CSRFProtection` keeps to when it reads the form before the route does.
    var formBodyLimit: ByteCount? {
        get { userInfo[.init(stringLiteral: Self.formBodyLimitKey)] as? ByteCount }
        set { userInfo[.init(stringLiteral: Self.formBodyLimitKey)] = newValue }
    }
}

extension RoutesBuilder {
    /// A POST route taking a form body of at most `maxSize`, declared so that `CSRFProtection` reads the
    /// body within the same limit.
    @discardableResult
    func formPost<Response: AsyncResponseEncodable>(
        _ path: [PathComponent], maxSize: ByteCount,
        use closure: @Sendable @escaping (Request) async throws -> Response
    ) -> Route {
        let route = on(.POST, path, body: .collect(maxSize: maxSize), use: closure)
        route.formBodyLimit = maxSize
        return route
    }
}
