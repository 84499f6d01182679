import Fluent
import FluentSQL
import SQLKit

/// Small helpers so every migration spells the original's conventions the same way.
extension SchemaBuilder {
    /// `created_at` and `updated_at`, both required.
    func timestamps() -> Self {
        field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
    }

    /// `public_id`, unique, with the original's prefix (`int_…`, `cnt_…`).
    func publicID() -> Self {
        field("public_id", .string, .required)
            .unique(on: "public_id")
    }

    /// A CHECK constraint (enforced by SQLite and PostgreSQL alike).
    func check(_ name: String, _ condition: String) -> Self {
        constraint(.custom(SQLConstraint(algorithm: SQLRaw("CHECK (\(condition))"), name: SQLIdentifier(name))))
    }

    /// `column IN (…)`; NULL allowed unless the column is required.
    func allowed(_ column: String, _ values: [String], table: String) -> Self {
        let list = values.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" }.joined(separator: ", ")
        return check("ck_\(table)_\(column)", "\(column) IN (\(list))")
    }

    /// An integer percentage 0–100.
    func percentage(_ column: String, table: String) -> Self {
        check("ck_\(table)_\(column)", "\(column) BETWEEN 0 AND 100")
    }
}

extension Database {
    var isPostgres: Bool { (self as? any SQLDatabase)?.dialect.name == "postgresql" }

    /// NUMERIC(14,2) on PostgreSQL, decimal text on SQLite (see `Money`).
    var moneyType: DatabaseSchema.DataType {
        isPostgres ? .custom(SQLRaw("NUMERIC(14,2)")) : .string
    }

    /// `jsonb` on PostgreSQL, JSON text on SQLite.
    var jsonType: DatabaseSchema.DataType {
        isPostgres ? .custom(SQLRaw("JSONB")) : .custom(SQLRaw("TEXT"))
    }

    /// The JSON literal default (`'{}'` / `'[]'`), typed for the dialect.
    func jsonDefault(_ literal: String) -> DatabaseSchema.FieldConstraint {
        .sql(unsafeRaw: isPostgres ? "DEFAULT '\(literal)'::jsonb" : "DEFAULT '\(literal)'")
    }

    /// Creates a plain index.
    func createIndex(_ name: String, on table: String, columns: [String]) async throws {
        guard let sql = self as? any SQLDatabase else { return }
        var builder = sql.create(index: name).on(table)
        for column in columns { builder = builder.column(column) }
        try await builder.run()
    }
}
