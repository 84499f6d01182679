import Vapor

/// Every error a client may see, rendered as API.md's shape:
/// `{"error": {"code": "…", "message": "…", "fields": {"config.phone_number_id": "required"}}}`.
public struct APIError: AbortError, Sendable {
    public let status: HTTPResponseStatus
    public let code: String
    public let message: String
    public let fields: [String: String]?
    public var headers: HTTPHeaders

    public var reason: String { message }

    public init(_ status: HTTPResponseStatus, code: String, message: String, fields: [String: String]? = nil, headers: HTTPHeaders = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    public static func malformed(_ message: String) -> APIError {
        APIError(.badRequest, code: "malformed_request", message: message)
    }

    public static func validation(_ fields: [String: String], message: String = "Some fields are not valid.") -> APIError {
        APIError(.unprocessableEntity, code: "validation_failed", message: message, fields: fields)
    }

    public static func validation(field: String, _ problem: String) -> APIError {
        validation([field: problem], message: "\(field): \(problem)")
    }

    public static let unauthenticated = APIError(
        .unauthorized, code: "unauthenticated",
        message: "Sign in or send a valid API token (Authorization: Bearer <token>).",
        headers: ["WWW-Authenticate": "Bearer"]
    )

    public static func forbidden(_ needed: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: "This needs the \(needed) role.")
    }

    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "\(what) was not found.")
    }

    public static func conflict(_ message: String) -> APIError {
        APIError(.conflict, code: "conflict", message: message)
    }
}

/// The JSON body of an error answer.
struct ErrorBody: Content {
    struct Detail: Content {
        let code: String
        let message: String
        let fields: [String: String]?
    }

    let error: Detail
}
