import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// Reads and writes the rows of one collection with SQLKit, and answers them as API JSON:
/// `{"id", "public_id", <parent column>, <fields…>, "created_at", "updated_at"}`, every key present.
struct RecordStore {
    let collection: RecordCollection
    let db: any Database

    /// Who made a change, for `audit_logs` and `created_by`.
    struct Actor {
        let userID: UUID?
        let ipAddress: String?
    }

    /// One stored record: its id and its answer.
    struct Record {
        let id: UUID
        let answer: JSONValue
    }

    var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else { throw APIError(.internalServerError, code: "internal", message: "SQL database needed") }
            return sql
        }
    }

    /// The columns read for an answer.
    var columns: [String] {
        ["id", "public_id"] + (collection.parent.map { [$0.column] } ?? []) + collection.fields.map(\.name) + ["created_at", "updated_at"]
    }

    func answer(_ row: any SQLRow) throws -> Record {
        let id = try row.decode(column: "id", as: UUID.self)
        var object: [String: JSONValue] = [
            "id": .string(id.uuidString),
            "public_id": .string(try row.decode(column: "public_id", as: String.self)),
            "created_at": .string(RecordDates.timestamp(try row.decode(column: "created_at", as: Date.self))),
            "updated_at": .string(RecordDates.timestamp(try row.decode(column: "updated_at", as: Date.self))),
        ]
        if let parent = collection.parent {
            object[parent.column] = try row.decode(column: parent.column, as: UUID?.self).map { .string($0.uuidString) } ?? .null
        }
        for field in collection.fields { object[field.name] = try field.answer(from: row) }
        return Record(id: id, answer: .object(object))
    }

    func select() throws -> SQLSelectBuilder {
        let builder = try sql.select().from(collection.table)
        for column in columns { builder.column(SQLColumn(column)) }
        return builder
    }

    /// The record with this UUID or public id (within the parent, when nested), or `nil`.
    func find(_ raw: String, parentID: UUID?) async throws -> Record? {
        guard let id = try await Self.resolveID(raw, in: collection, on: try sql) else { return nil }
        let builder = try select().where("id", .equal, SQLBind(id))
        if let parent = collection.parent, let parentID { builder.where(SQLColumn(parent.column), .equal, SQLBind(parentID)) }
        return try await builder.first().map(answer)
    }

    /// The UUID of the row of `collection` that `raw` (a UUID or a public id) names, if it exists.
    static func resolveID(_ raw: String, in collection: RecordCollection, on sql: any SQLDatabase) async throws -> UUID? {
        let builder = sql.select().column("id").from(collection.table)
        if let uuid = UUID(uuidString: raw) {
            builder.where("id", .equal, SQLBind(uuid))
        } else if PublicID.matches(raw, collection.prefix), !JSONValue.string(raw).containsNULCharacter {
            builder.where("public_id", .equal, SQLBind(raw))
        } else {
            return nil
        }
        return try await builder.first()?.decode(column: "id", as: UUID.self)
    }

    /// The UUID of the user `raw` names, if it exists.
    static func resolveUser(_ raw: String, on sql: any SQLDatabase) async throws -> UUID? {
        guard let uuid = UUID(uuidString: raw) else { return nil }
        return try await sql.select().column("id").from(User.schema).where("id", .equal, SQLBind(uuid)).first()?
            .decode(column: "id", as: UUID.self)
    }

    /// What a list asks for.
    struct ListQuery {
        var parentID: UUID?
        var filters: [(column: String, value: StoredValue)] = []
        var search: String?
        var createdAfter: Date?
        var createdBefore: Date?
        var page: PageRequest
    }

    /// A page of records, oldest first by (created_at, id), and the cursor of the next page.
    func list(_ query: ListQuery) async throws -> (items: [JSONValue], nextCursor: String?) {
        let builder = try select()
        if let parent = collection.parent, let parentID = query.parentID {
            builder.where(SQLColumn(parent.column), .equal, SQLBind(parentID))
        }
        if let after = query.page.after {
            let named = try sql.select().column("id").from(collection.table).where("id", .equal, SQLBind(after))
            if let parent = collection.parent, let parentID = query.parentID {
                named.where(SQLColumn(parent.column), .equal, SQLBind(parentID))
            }
            guard try await named.first() != nil else { throw PageRequest.invalidCursor }
            builder.where(SQLQueryString("""
                (created_at, id) > (SELECT c.created_at, c.id FROM \(ident: collection.table) c WHERE c.id = \(bind: after))
                """))
        }
        for filter in query.filters {
            if filter.value == .null {
                builder.where(SQLColumn(filter.column), .is, SQLLiteral.null)
            } else {
                builder.where(SQLColumn(filter.column), .equal, filter.value.sql)
            }
        }
        if let search = query.search {
            builder.where(SQLQueryString("search_text LIKE \(bind: SearchText.pattern(search)) ESCAPE '\\'"))
        }
        if let after = query.createdAfter { builder.where("created_at", .greaterThanOrEqual, SQLBind(after)) }
        if let before = query.createdBefore { builder.where("created_at", .lessThan, SQLBind(before)) }
        let rows = try await builder
            .orderBy("created_at", .ascending)
            .orderBy("id", .ascending)
            .limit(query.page.limit + 1)
            .all()
        let records = try rows.prefix(query.page.limit).map(answer)
        let next = rows.count > query.page.limit ? records.last.map { PageRequest.encode($0.id) } : nil
        return (records.map(\.answer), next)
    }

    /// The `search_text` of a record: `changes` over the `current` answer (empty when creating).
    func searchDocument(current: [String: JSONValue], changes: [String: StoredValue]) -> StoredValue {
        .text(SearchText.document(collection.searchableFields.map { field -> String? in
            guard let change = changes[field.name] else { return current[field.name]?.stringValue }
            if case .text(let text) = change { return text }
            return nil
        }))
    }
}
