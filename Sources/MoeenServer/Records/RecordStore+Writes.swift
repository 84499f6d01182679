import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// Checking a body against the collection's declaration, and creating, updating and deleting records, each
/// with its `audit_logs` row (run these inside a transaction: the controller and the message intake do).
extension RecordStore {
    /// The values a body asks to store: unknown and read-only keys refused, types, allowed values, ranges and
    /// references checked; 422 naming every field that is wrong.
    ///
    /// When `creating`, fields left out take their default (or `null`) and required ones must be there. A `null`
    /// clears an optional field; a field with a default (status, tags, percentages, flags) goes back to it; a
    /// required field cannot be cleared.
    func values(from body: [String: JSONValue], creating: Bool, now: Date) async throws -> [String: StoredValue] {
        var problems: [String: String] = [:]
        var values: [String: StoredValue] = [:]
        for key in body.keys where collection.field(key) == nil {
            problems[key] = collection.readOnlyKeys.contains(key)
                ? "cannot be written"
                : "is not a field of this collection (\(collection.fields.map(\.name).joined(separator: ", ")))"
        }
        for field in collection.fields {
            let given = body[field.name]
            guard let given, given != .null else {
                guard given != nil || creating else { continue }
                if field.required {
                    problems[field.name] = "required"
                } else {
                    values[field.name] = field.defaultValue ?? (field.defaultsToNow ? .date(now) : .null)
                }
                continue
            }
            let parsed: StoredValue
            do { parsed = try field.parse(given) } catch {
                problems[field.name] = error.message
                continue
            }
            guard case .reference(let target) = field.kind, case .text(let raw) = parsed else {
                values[field.name] = parsed
                continue
            }
            if let id = try await resolve(target, raw) {
                values[field.name] = .uuid(id)
            } else {
                problems[field.name] = "no \(target.noun.lowercased()) has this id"
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        return values
    }

    /// The UUID of the row a reference names, if it exists.
    func resolve(_ target: RecordTarget, _ raw: String) async throws -> UUID? {
        switch target {
        case .user: try await Self.resolveUser(raw, on: try sql)
        case .collection(let key):
            if let referenced = RecordCollections.byKey[key] { try await Self.resolveID(raw, in: referenced, on: try sql) } else { nil }
        }
    }

    /// Inserts a record with `values` (from `values(from:creating: true)`) and its audit row.
    func create(_ values: [String: StoredValue], parentID: UUID?, by actor: Actor, now: Date) async throws -> Record {
        let id = UUID()
        var columns = ["id", "public_id", "created_at", "updated_at", "search_text"]
        var row: [any SQLExpression] = [
            SQLBind(id), SQLBind(PublicID.make(collection.prefix, at: now)), SQLBind(now), SQLBind(now),
            searchDocument(current: [:], changes: values).sql,
        ]
        if let parent = collection.parent {
            columns.append(parent.column)
            row.append(parentID.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null)
        }
        if collection.hasCreatedBy {
            columns.append("created_by")
            row.append(actor.userID.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null)
        }
        for field in collection.fields {
            columns.append(field.name)
            row.append((values[field.name] ?? .null).sql)
        }
        try await guardingDuplicates {
            try await sql.insert(into: collection.table).columns(columns).values(row).run()
        }
        let record = try await reread(id)
        try await audit("INSERT", id, old: nil, new: record.answer, by: actor)
        return record
    }

    /// Changes the fields in `values` (from `values(from:creating: false)`); nothing given changes nothing.
    func update(_ current: Record, _ values: [String: StoredValue], by actor: Actor, now: Date) async throws -> Record {
        guard !values.isEmpty else { return current }
        let builder = try sql.update(collection.table)
            .set("updated_at", to: SQLBind(now))
            .set("search_text", to: searchDocument(current: current.answer.objectValue ?? [:], changes: values).sql)
        for (name, value) in values { builder.set(SQLColumn(name), to: value.sql) }
        try await guardingDuplicates {
            try await builder.where("id", .equal, SQLBind(current.id)).run()
        }
        let record = try await reread(current.id)
        try await audit("UPDATE", current.id, old: current.answer, new: record.answer, by: actor)
        return record
    }

    /// Deletes the record; the database applies the delete rules (cascades, `set null`).
    func delete(_ current: Record, by actor: Actor) async throws {
        try await sql.delete(from: collection.table).where("id", .equal, SQLBind(current.id)).run()
        try await audit("DELETE", current.id, old: current.answer, new: nil, by: actor)
    }

    private func reread(_ id: UUID) async throws -> Record {
        guard let row = try await select().where("id", .equal, SQLBind(id)).first() else {
            throw APIError.notFound("\(collection.noun) \(id.uuidString)")
        }
        return try answer(row)
    }

    private func audit(_ action: String, _ id: UUID, old: JSONValue?, new: JSONValue?, by actor: Actor) async throws {
        try await AuditLog(action: action, tableName: collection.table, recordID: id.uuidString, oldValues: old,
                           newValues: new, userID: actor.userID, ipAddress: actor.ipAddress).create(on: db)
    }

    /// A duplicate of a unique key (a patient's progress in one program) is 409, not a 500.
    private func guardingDuplicates(_ write: () async throws -> Void) async throws {
        do {
            try await write()
        } catch where UniqueViolation.matches(error) {
            throw APIError.conflict(collection.duplicateMessage ?? "\(collection.noun) already exists.")
        }
    }
}
