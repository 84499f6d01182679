import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor

/// One app's tokens and the parents the record tests need: a patient and a contact (each made through the API),
/// plus a second of each to check that nested records stay under their own parent.
struct RecordFixture {
    let app: Application
    let staff: String
    let viewer: String
    let patient: String
    let otherPatient: String
    let contact: String
    let otherContact: String

    static func make(_ app: Application) async throws -> RecordFixture {
        let staff = try await app.bearer(role: .staff)
        let viewer = try await app.bearer(role: .viewer)
        func make(_ path: String, _ body: JSONValue) async throws -> String {
            let made = try await app.call(.POST, path, auth: staff, body: body)
            #expect(made.status == .created, "\(made.text)")
            return try #require(made.json["public_id"] as? String)
        }
        return RecordFixture(
            app: app, staff: staff, viewer: viewer,
            patient: try await make("/api/patients", ["full_name": "Parent patient"]),
            otherPatient: try await make("/api/patients", ["full_name": "Other patient"]),
            contact: try await make("/api/crm/contacts", ["first_name": "Parent contact"]),
            otherContact: try await make("/api/crm/contacts", ["first_name": "Other contact"]))
    }

    /// The collection's path: `/api/patients/{patient}/goals` for a nested one (`other`: under the second parent).
    func path(_ collection: RecordCollection, other: Bool = false) -> String {
        guard let parent = collection.parent else { return "/api/" + collection.path.joined(separator: "/") }
        let id = parent.key == "patients" ? (other ? otherPatient : patient) : (other ? otherContact : contact)
        let parentPath = RecordCollections.byKey[parent.key]!.path.joined(separator: "/")
        return "/api/\(parentPath)/\(id)/" + collection.path.joined(separator: "/")
    }

    /// `body` with `"$contact"`, `"$program"` (a new program each time) and `"$user"` replaced by real ids (UUIDs).
    func resolve(_ body: [String: JSONValue]) async throws -> [String: JSONValue] {
        var resolved = body
        for (key, value) in body {
            switch value {
            case "$contact":
                resolved[key] = .string(try await uuid(of: "/api/crm/contacts/\(contact)"))
            case "$program":
                let made = try await app.call(.POST, "/api/training-programs", auth: staff, body: ["program_name": "Program"])
                resolved[key] = .string(try #require(made.json["id"] as? String))
            case "$user":
                resolved[key] = .string(try #require(try await User.query(on: app.db).first()).requireID().uuidString)
            default: break
            }
        }
        return resolved
    }

    func uuid(of path: String) async throws -> String {
        try #require(try await app.call(.GET, path, auth: staff).json["id"] as? String)
    }

    /// Creates a record of the case (with `overrides`); the answer as JSON.
    func create(_ recordCase: RecordCase, _ overrides: [String: JSONValue] = [:], other: Bool = false) async throws -> [String: JSONValue] {
        var body = try await resolve(recordCase.create)
        body.merge(overrides) { $1 }
        let made = try await app.call(.POST, path(recordCase.collection, other: other), auth: staff, body: .object(body))
        #expect(made.status == .created, "\(recordCase.key): \(made.text)")
        return try Self.object(made.text)
    }

    static func object(_ text: String) throws -> [String: JSONValue] {
        try #require(JSONValue.parse(Array(text.utf8))?.objectValue, "not a JSON object: \(text)")
    }

    /// The `data` of a list answer, and its `next_cursor`.
    func list(_ path: String, auth: String? = nil) async throws -> (status: HTTPStatus, data: [[String: JSONValue]], next: String?, text: String) {
        let answer = try await app.call(.GET, path, auth: auth ?? staff)
        let object = JSONValue.parse(Array(answer.text.utf8))?.objectValue ?? [:]
        let data = object["data"]?.arrayValue?.compactMap(\.objectValue) ?? []
        return (answer.status, data, object["next_cursor"]?.stringValue, answer.text)
    }

    /// The audit rows of a record, oldest first.
    func auditActions(_ id: String, table: String) async throws -> [String] {
        try await AuditLog.query(on: app.db).filter(\.$tableName == table).filter(\.$recordID == id)
            .sort(\.$createdAt).all().map(\.action)
    }
}

/// `error.fields` of an `app.call` answer.
func fieldsOf(_ answer: (status: HTTPStatus, json: [String: Any], text: String)) -> [String: String] {
    (answer.json["error"] as? [String: Any])?["fields"] as? [String: String] ?? [:]
}

extension String {
    /// The text percent-encoded for a query value.
    var queryEncoded: String { addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? self }
}
