import AsyncKit
import Fluent
import MoeenSecrets
import NIOCore
import NIOPosix
import PostgresNIO
import SQLiteNIO
import Vapor

/// Turns every thrown error into API.md's error shape with the right status. Bad input is a 4xx, never a 500;
/// an unexpected error is a 500 whose body says nothing internal (the log has the details).
struct ErrorRenderingMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            let apiError = Self.map(error)
            if let error = error as? SecretsError {
                request.logger.error("secret could not be used", metadata: ["error": .string(error.description)])
            } else if apiError.status == .internalServerError {
                request.logger.report(error: error)
            } else {
                request.logger.debug("request failed", metadata: ["status": "\(apiError.status.code)", "code": "\(apiError.code)"])
            }
            return Self.render(apiError, for: request)
        }
    }

    static func render(_ error: APIError, for request: Request) -> Response {
        let body = ErrorBody(error: .init(code: error.code, message: error.message, fields: error.fields))
        var headers = error.headers
        headers.contentType = .json
        let response = Response(status: error.status, headers: headers)
        do {
            try response.content.encode(body, using: JSONEncoder())
        } catch {
            response.body = .init(string: #"{"error":{"code":"internal_error","message":"Internal error."}}"#)
        }
        return response
    }

    static func map(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as SecretsError:
            return error.apiError
        case let error as DecodingError:
            return map(decoding: error)
        case let error as ValidationsError:
            var fields: [String: String] = [:]
            for failure in error.failures where failure.result.isFailure {
                fields[failure.key.stringValue] = failure.result.failureDescription ?? "is not valid"
            }
            return .validation(fields)
        case let databaseError as any DatabaseError where databaseError.isConstraintFailure:
            if UniqueViolation.matches(error) {
                return .conflict("A record with the same unique values already exists.")
            }
            return APIError(.unprocessableEntity, code: "validation_failed", message: "A value breaks a data rule (allowed values, range or reference).")
        case _ where isDatabaseUnavailable(error):
            // The database is away (stopped, restarting, unreachable): nothing was accepted; try again shortly.
            return APIError(.serviceUnavailable, code: "database_unavailable",
                            message: "The database is not reachable right now; nothing was saved. Try again shortly.",
                            headers: ["Retry-After": "5"])
        case let error as any AbortError:
            return APIError(error.status, code: code(for: error.status), message: error.reason, headers: error.headers)
        default:
            return APIError(.internalServerError, code: "internal_error", message: "Something went wrong on our side; it has been logged.")
        }
    }

    /// Whether `error` says the database cannot be reached (rather than that a statement failed).
    static func isDatabaseUnavailable(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError:
            if [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed]
                .contains(error.code) {
                return true
            }
            // The server's own words for "going away": connection exceptions (08…) and operator intervention
            // such as a shutdown or a start not finished yet (57P01–57P03).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        case is ConnectionPoolTimeoutError, is ConnectionPoolError, is NIOConnectionError:
            return true
        case let error as IOError:
            return [ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT].contains(error.errnoCode)
        case let error as ChannelError:
            if case .ioOnClosedChannel = error { return true }
            return false
        case let error as SQLiteError:
            // SQLite's writer lock held past the busy timeout: the database is overloaded, not the input bad.
            return error.reason == .busy || error.reason == .locked
        default:
            return false
        }
    }

    /// Malformed JSON is a 400; well-formed JSON with a wrong or missing field is a 422 naming the field.
    static func map(decoding error: DecodingError) -> APIError {
        func path(_ context: DecodingError.Context, appending key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .malformed("The body is not valid JSON.")
        case .dataCorrupted(let context):
            return .validation(field: path(context), context.debugDescription)
        case .keyNotFound(let key, let context):
            return .validation(field: path(context, appending: key), "required")
        case .valueNotFound(_, let context):
            return .validation(field: path(context), "required")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return .malformed("The body must be a JSON object.") }
            return .validation(field: path(context), "must be \(describe(type))")
        @unknown default:
            return .malformed("The body could not be read.")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type: "a number"
        default: "a value of another type"
        }
    }

    static func code(for status: HTTPResponseStatus) -> String {
        switch status.code {
        case 400: "malformed_request"
        case 401: "unauthenticated"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "validation_failed"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal_error" : "bad_request"
        }
    }
}
