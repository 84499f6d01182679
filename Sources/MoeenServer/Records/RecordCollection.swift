import Foundation

/// One collection of API.md "CRM and care records", declared: its table, public id prefix, parent and fields.
/// `RecordStore` and `RecordsController` do everything else (listing, filters, paging, validation, audit)
/// the same way for every collection.
struct RecordCollection: Sendable {
    /// The collection nested under another one: `/api/patients/{id}/goals` lives under `patients`.
    struct Parent: Sendable {
        /// The parent collection's key.
        let key: String
        /// This table's column holding the parent's id.
        let column: String
    }

    /// A short stable name (`contacts`, `goals`), used by references and in code.
    let key: String
    /// Path segments after `/api` (top level) or after the parent's `{id}` (nested).
    let path: [String]
    /// What one record is called in messages (`Contact`, `Goal`).
    let noun: String
    let table: String
    let prefix: PublicID.Prefix
    var parent: Parent? = nil
    let fields: [RecordField]
    /// The table has `created_by` (the user who created the row).
    var hasCreatedBy = true
    /// Set when the table has a unique key besides the id: the 409 message for a duplicate.
    var duplicateMessage: String? = nil

    func field(_ name: String) -> RecordField? { fields.first { $0.name == name } }

    var searchableFields: [RecordField] { fields.filter(\.searchable) }

    /// Keys the answer has that a client cannot write.
    var readOnlyKeys: Set<String> {
        var keys: Set<String> = ["id", "public_id", "created_at", "updated_at"]
        if let parent { keys.insert(parent.column) }
        return keys
    }

    /// The route path components: `["crm", "contacts"]`, or `["patients", ":id", "goals"]` when nested (the
    /// parent's id is `id`, as on the parent's own routes: the router needs one name per position).
    var routePath: [String] {
        guard let parent, let parentCollection = RecordCollections.byKey[parent.key] else { return path }
        return parentCollection.path + [":id"] + path
    }

    /// The route parameter naming one record: `id`, or `item` when nested (`/api/patients/{id}/goals/{item}`).
    var itemParameter: String { parent == nil ? "id" : "item" }
}
