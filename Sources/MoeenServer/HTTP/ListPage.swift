import Fluent
import FluentSQL
import Foundation
import SQLKit
import Vapor

/// API.md's list shape: `{"data": [...], "next_cursor": "…" | null}`.
struct ListPage<Item: Content>: Content {
    let data: [Item]
    let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }

    init(data: [Item], nextCursor: String?) {
        self.data = data
        self.nextCursor = nextCursor
    }

    /// `next_cursor` is always present, `null` on the last page.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// `?limit=` (default 50, max 200) and `?cursor=` for keyset pagination over (created_at, id).
///
/// The cursor names the last row seen; the next page starts after that row's (created_at, id) as the
/// database itself stores them, so no timestamp is ever converted and compared inexactly. A cursor that
/// cannot be read, or names no row of the list, is 400 `invalid_cursor`.
struct PageRequest {
    static let defaultLimit = 50
    static let maxLimit = 200

    let limit: Int
    let after: UUID?

    init(_ req: Request) throws {
        let rawLimit = try? req.query.get(Int.self, at: "limit")
        if req.query[String.self, at: "limit"] != nil && rawLimit == nil {
            throw APIError.validation(field: "limit", "must be a whole number from 1 to \(Self.maxLimit)")
        }
        let limit = rawLimit ?? Self.defaultLimit
        guard (1...Self.maxLimit).contains(limit) else {
            throw APIError.validation(field: "limit", "must be a whole number from 1 to \(Self.maxLimit)")
        }
        self.limit = limit
        if let cursor = req.query[String.self, at: "cursor"], !cursor.isEmpty {
            guard let decoded = Self.decode(cursor) else { throw Self.invalidCursor }
            after = decoded
        } else {
            after = nil
        }
    }

    /// A cursor that names no row of the list — forged, from another list, or naming a row deleted since —
    /// is refused rather than answered with an empty page that would look like the end of the list.
    static let invalidCursor = APIError(
        .badRequest, code: "invalid_cursor",
        message: "The cursor does not name a row of this list (it may be from another list or out of date); start again without it."
    )

    static func encode(_ id: UUID) -> String {
        Data(id.uuidString.utf8).base64EncodedString()
    }

    static func decode(_ cursor: String) -> UUID? {
        guard let data = Data(base64Encoded: cursor) else { return nil }
        return UUID(uuidString: String(decoding: data, as: UTF8.self))
    }
}

extension QueryBuilder where Model.IDValue == UUID {
    /// Applies keyset pagination over (created_at, id), oldest first or newest first, and returns the page
    /// plus the cursor of the next one.
    func page(_ request: PageRequest, newestFirst: Bool = false) async throws -> (items: [Model], nextCursor: String?) {
        if let after = request.after {
            guard try await Model.find(after, on: database) != nil else {
                throw PageRequest.invalidCursor
            }
            let comparison: SQLQueryString = newestFirst ? " < " : " > "
            self.filter(.sql(embed: """
                (created_at, id)\(comparison)(SELECT c.created_at, c.id FROM \(ident: Model.schema) c WHERE c.id = \(bind: after))
                """))
        }
        let direction: DatabaseQuery.Sort.Direction = newestFirst ? .descending : .ascending
        let rows = try await self
            .sort(.sql(unsafeRaw: "created_at"), direction)
            .sort(.sql(unsafeRaw: "id"), direction)
            .limit(request.limit + 1)
            .all()
        let items = Array(rows.prefix(request.limit))
        var next: String?
        if rows.count > request.limit, let lastID = items.last?.id {
            next = PageRequest.encode(lastID)
        }
        return (items, next)
    }
}
