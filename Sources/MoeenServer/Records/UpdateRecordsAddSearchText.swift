import Foundation
import Fluent
import FluentSQL
import SQLKit

/// `search_text` on every CRM and care table: the record's searchable fields folded by `SearchText`, so `?q=`
/// is case-insensitive for every script on SQLite and PostgreSQL alike. Rows that exist already are filled in.
struct UpdateRecordsAddSearchText: AsyncMigration {
    func prepare(on database: any Database) async throws {
        for collection in RecordCollections.all {
            try await database.schema(collection.table).field("search_text", .string).update()
            guard let sql = database as? any SQLDatabase else { continue }
            let names = collection.searchableFields.map(\.name)
            let select = sql.select().column("id").from(collection.table)
            for name in names { select.column(SQLColumn(name)) }
            for row in try await select.all() {
                let id = try row.decode(column: "id", as: UUID.self)
                let values = try names.map { try row.decode(column: $0, as: String?.self) }
                try await sql.update(collection.table)
                    .set("search_text", to: SQLBind(SearchText.document(values)))
                    .where("id", .equal, SQLBind(id))
                    .run()
            }
        }
    }

    func revert(on database: any Database) async throws {
        for collection in RecordCollections.all {
            try await database.schema(collection.table).deleteField("search_text").update()
        }
    }
}
