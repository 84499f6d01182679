import Foundation
import MoeenCore
import Vapor

/// Refuses U+0000 (NUL) at the edge: PostgreSQL text cannot hold it, so an id, a query value or a JSON string
/// carrying one would otherwise reach a query and fail there (a 500). An id in the path with it names nothing
/// (404); an `/api` query parameter with it is 422 naming the parameter; an `/api` JSON body with it is 422
/// naming each top-level member that holds one. Handlers may check the same more precisely; this is the floor.
struct NULCharacterGuard: AsyncMiddleware {
    static let problem = "must not contain the NUL character (U+0000)"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let path = request.url.path
        if path.contains("%00"), (path.removingPercentEncoding ?? path).unicodeScalars.contains("\u{0}") {
            throw APIError(.notFound, code: "not_found", message: "Nothing has this id: it contains U+0000 (NUL).")
        }
        // Only `/api` reads query values into queries; elsewhere (the WhatsApp check) they are compared, not stored.
        if path.hasPrefix("/api/"), let query = request.url.query, query.contains("%00") {
            let fields = Self.queryFields(query)
            if !fields.isEmpty { throw APIError.validation(fields) }
        }
        if path.hasPrefix("/api/"), CSRFProtection.isUnsafe(request.method) {
            if request.body.data == nil {
                let limit = request.application.routes.defaultMaxBodySize
                _ = try await request.eventLoop.flatSubmit { request.body.collect(max: limit.value) }.get()
            }
            if let body = request.body.data, let fields = Self.bodyFields(body) { throw APIError.validation(fields) }
        }
        return try await next.respond(to: request)
    }

    /// The query parameters whose name or value holds U+0000.
    static func queryFields(_ query: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                .map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            guard parts.contains(where: { $0.unicodeScalars.contains("\u{0}") }) else { continue }
            fields[String(parts[0].unicodeScalars.filter { $0 != "\u{0}" }).capped(characters: 64)] = problem
        }
        return fields
    }

    /// The top-level members of a JSON body that hold U+0000 (in a key or a string), or `nil` when none do.
    static func bodyFields(_ body: ByteBuffer) -> [String: String]? {
        // JSON can only carry U+0000 escaped; most bodies are passed over by this look alone.
        let view = body.readableBytesView
        guard view.count >= 6, String(decoding: view, as: UTF8.self).lowercased().contains("\\u0000"),
              let value = JSONValue.parse(view), value.containsNULCharacter
        else { return nil }
        guard case .object(let members) = value else { return ["body": problem] }
        var fields: [String: String] = [:]
        for (key, member) in members where key.unicodeScalars.contains("\u{0}") || member.containsNULCharacter {
            fields[String(key.unicodeScalars.filter { $0 != "\u{0}" }).capped(characters: 64)] = problem
        }
        return fields
    }
}
