import Fluent
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// The routes of every collection of `RecordCollections`: `GET` list and one (any role), `POST`, `PATCH`,
/// `DELETE` (staff and up). Nested collections answer 404 when the parent does not exist.
struct RecordsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let readers = routes.grouped(RequireRole(role: .viewer))
        let writers = routes.grouped(RequireRole(role: .staff))
        for collection in RecordCollections.all {
            let path = collection.routePath.map { PathComponent(stringLiteral: $0) }
            let one = path + [PathComponent(stringLiteral: ":" + collection.itemParameter)]
            readers.get(path) { req in try await Self.index(req, collection) }
            readers.get(one) { req in RecordAnswer(try await Self.find(req, collection).answer) }
            writers.post(path) { req in try await Self.create(req, collection) }
            writers.patch(one) { req in try await Self.update(req, collection) }
            writers.delete(one) { req in try await Self.delete(req, collection) }
        }
    }

    static func index(_ req: Request, _ collection: RecordCollection) async throws -> ListPage<RecordAnswer> {
        var query = RecordStore.ListQuery(page: try PageRequest(req))
        query.parentID = try await parentID(req, collection)
        let store = RecordStore(collection: collection, db: req.db)
        var problems: [String: String] = [:]
        for field in collection.fields where field.filterable {
            guard let raw = req.query[String.self, at: field.name] else { continue }
            let given: JSONValue = switch field.kind {
            case .bool: raw == "true" ? .bool(true) : raw == "false" ? .bool(false) : .string(raw)
            default: .string(raw)
            }
            do {
                var value = try field.parse(given)
                if case .reference(let target) = field.kind, case .text(let id) = value {
                    guard let resolved = try await store.resolve(target, id) else {
                        problems[field.name] = "no \(target.noun.lowercased()) has this id"
                        continue
                    }
                    value = .uuid(resolved)
                }
                query.filters.append((field.name, value))
            } catch let problem as FieldProblem {
                problems[field.name] = problem.message
            }
        }
        if let q = req.query[String.self, at: "q"], !q.trimmingCharacters(in: .whitespaces).isEmpty {
            if q.count > SearchText.maximumQueryLength {
                problems["q"] = "must be at most \(SearchText.maximumQueryLength) characters"
            } else if JSONValue.string(q).containsNULCharacter {
                problems["q"] = "must not contain the NUL character (U+0000)"
            } else {
                query.search = q
            }
        }
        for (key, bound) in [("created_after", \RecordStore.ListQuery.createdAfter), ("created_before", \.createdBefore)] {
            guard let raw = req.query[String.self, at: key] else { continue }
            if let date = RFC3339.parse(raw) { query[keyPath: bound] = date } else {
                problems[key] = "must be an RFC 3339 time like 2026-12-01T09:00:00Z"
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let (items, next) = try await store.list(query)
        return ListPage(data: items.map(RecordAnswer.init), nextCursor: next)
    }

    static func create(_ req: Request, _ collection: RecordCollection) async throws -> Response {
        let parentID = try await parentID(req, collection)
        let body = try jsonBody(req)
        let now = Date()
        let actor = try actor(req)
        let record = try await req.db.transaction { tx in
            let store = RecordStore(collection: collection, db: tx)
            return try await store.create(try await store.values(from: body, creating: true, now: now),
                                          parentID: parentID, by: actor, now: now)
        }
        return try await RecordAnswer(record.answer).encodeResponse(status: .created, for: req)
    }

    static func update(_ req: Request, _ collection: RecordCollection) async throws -> RecordAnswer {
        let current = try await find(req, collection)
        let body = try jsonBody(req)
        let now = Date()
        let actor = try actor(req)
        let record = try await req.db.transaction { tx in
            let store = RecordStore(collection: collection, db: tx)
            return try await store.update(current, try await store.values(from: body, creating: false, now: now), by: actor, now: now)
        }
        return RecordAnswer(record.answer)
    }

    static func delete(_ req: Request, _ collection: RecordCollection) async throws -> HTTPStatus {
        let current = try await find(req, collection)
        let actor = try actor(req)
        try await req.db.transaction { tx in
            try await RecordStore(collection: collection, db: tx).delete(current, by: actor)
        }
        return .noContent
    }

    /// The record `{id}` names (within its parent), or 404.
    static func find(_ req: Request, _ collection: RecordCollection) async throws -> RecordStore.Record {
        let parentID = try await parentID(req, collection)
        let raw = req.parameters.get(collection.itemParameter) ?? ""
        guard let record = try await RecordStore(collection: collection, db: req.db).find(raw, parentID: parentID) else {
            throw APIError.notFound("\(collection.noun) \(raw.capped(characters: 80))")
        }
        return record
    }

    /// The parent's UUID for a nested collection (404 when it does not exist), `nil` for a top-level one.
    static func parentID(_ req: Request, _ collection: RecordCollection) async throws -> UUID? {
        guard let parent = collection.parent, let parentCollection = RecordCollections.byKey[parent.key] else { return nil }
        let raw = req.parameters.get("id") ?? ""
        guard let sql = req.db as? any SQLDatabase,
              let id = try await RecordStore.resolveID(raw, in: parentCollection, on: sql)
        else { throw APIError.notFound("\(parentCollection.noun) \(raw.capped(characters: 80))") }
        return id
    }

    static func actor(_ req: Request) throws -> RecordStore.Actor {
        RecordStore.Actor(userID: try req.currentUser.id, ipAddress: req.clientAddress)
    }

    /// The body as a JSON object; 400 when it is not JSON or not an object.
    static func jsonBody(_ req: Request) throws -> [String: JSONValue] {
        guard let buffer = req.body.data, buffer.readableBytes > 0 else {
            throw APIError.malformed("The body must be a JSON object.")
        }
        guard let value = JSONValue.parse(buffer.readableBytesView) else {
            throw APIError.malformed("The body is not valid JSON.")
        }
        guard case .object(let object) = value else { throw APIError.malformed("The body must be a JSON object.") }
        return object
    }
}

/// One record as the API answers it (a JSON object; see `RecordStore`).
struct RecordAnswer: Content {
    let value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    init(from decoder: any Decoder) throws { value = try JSONValue(from: decoder) }

    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
