import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor

@Suite("Records: each collection's life")
struct RecordLifecycleTests {
    @Test("create, read (UUID and public id), update, delete; roles; audit rows; every rule a 422 naming the field",
          arguments: RecordCases.all)
    func lifecycle(_ recordCase: RecordCase) async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let collection = recordCase.collection
            let base = fx.path(collection)
            let body = JSONValue.object(try await fx.resolve(recordCase.create))

            // A viewer reads but never writes.
            #expect(try await app.call(.POST, base, auth: fx.viewer, body: body).status == .forbidden)
            #expect(try await app.call(.POST, base, auth: nil, body: body).status == .unauthorized)

            let made = try await app.call(.POST, base, auth: fx.staff, body: body)
            #expect(made.status == .created, "\(made.text)")
            let record = try RecordFixture.object(made.text)
            let id = try #require(record["id"]?.stringValue)
            let publicID = try #require(record["public_id"]?.stringValue)
            #expect(publicID.hasPrefix(collection.prefix.rawValue + "_"))
            var expected = try await fx.resolve(recordCase.create).merging(recordCase.expect) { $1 }
            for (key, value) in recordCase.create where value == "$program" { expected[key] = record[key] }
            for (key, value) in expected {
                #expect(record[key] == value, "\(recordCase.key).\(key): \(record[key] ?? .null) ≠ \(value)")
            }
            // Every field and the fixed keys are in the answer, null when unset.
            for key in collection.fields.map(\.name) + ["id", "public_id", "created_at", "updated_at"] {
                #expect(record[key] != nil, "\(recordCase.key) answer lacks \(key)")
            }
            if let parent = collection.parent {
                #expect(record[parent.column]?.stringValue?.isEmpty == false)
            }

            // Read by UUID and by public id, as a viewer; the list has it.
            for key in [id, publicID] {
                let read = try await app.call(.GET, "\(base)/\(key)", auth: fx.viewer)
                #expect(read.status == .ok)
                #expect(try RecordFixture.object(read.text) == record)
            }
            let listed = try await fx.list("\(base)?limit=200", auth: fx.viewer).data
            #expect(listed.contains { $0 == record })
            let count = listed.count
            #expect(try await app.call(.GET, "\(base)/\(UUID().uuidString)", auth: fx.staff).status == .notFound)
            if collection.parent != nil {
                // Under another parent the record does not exist; under no parent at all, the parent is 404.
                #expect(try await app.call(.GET, "\(fx.path(collection, other: true))/\(id)", auth: fx.staff).status == .notFound)
                #expect(try await fx.list(fx.path(collection, other: true)).data.isEmpty)
                let orphan = base.replacingOccurrences(of: collection.parent?.key == "patients" ? fx.patient : fx.contact,
                                                       with: "\(collection.prefix.rawValue)_20260101_00000000")
                #expect(try await app.call(.GET, orphan, auth: fx.staff).status == .notFound)
                #expect(try await app.call(.POST, orphan, auth: fx.staff, body: body).status == .notFound)
            }

            // Each bad value alone is a 422 naming its field, on create and on update; nothing is stored.
            for (field, value) in recordCase.bad {
                var wrong = try await fx.resolve(recordCase.create)
                wrong[field] = value
                let refused = try await app.call(.POST, base, auth: fx.staff, body: .object(wrong))
                #expect(refused.status == .unprocessableEntity, "\(recordCase.key).\(field) = \(value): \(refused.text)")
                #expect(fieldsOf(refused)[field] != nil, "\(recordCase.key).\(field) = \(value): \(refused.text)")
                let patched = try await app.call(.PATCH, "\(base)/\(id)", auth: fx.staff, body: [field: value])
                #expect(patched.status == .unprocessableEntity, "PATCH \(recordCase.key).\(field) = \(value): \(patched.text)")
                #expect(fieldsOf(patched)[field] != nil, "PATCH \(recordCase.key).\(field): \(patched.text)")
            }
            // Unknown and read-only keys are named; malformed JSON is 400.
            let unknown = try await app.call(.PATCH, "\(base)/\(id)", auth: fx.staff, body: ["favourite_colour": "blue", "public_id": "x"])
            #expect(unknown.status == .unprocessableEntity)
            #expect(Set(fieldsOf(unknown).keys) == ["favourite_colour", "public_id"])
            var malformed = try await fx.resolve(recordCase.create)
            malformed["favourite_colour"] = "blue"
            #expect(fieldsOf(try await app.call(.POST, base, auth: fx.staff, body: .object(malformed))).keys.contains("favourite_colour"))
            try await app.testing().test(.POST, base, headers: .auth(fx.staff), beforeRequest: { req in
                req.body = ByteBuffer(string: "{\"oops\": ")
            }) { res async throws in
                #expect(res.status == .badRequest)
                #expect(try errorCode(res) == "malformed_request")
            }
            #expect(try await app.call(.PATCH, "\(base)/\(id)", auth: fx.staff, body: [1, 2]).status == .badRequest)
            #expect(try await fx.list("\(base)?limit=200").data.count == count)
            #expect(try await fx.auditActions(id, table: collection.table) == ["INSERT"])

            // A partial update changes only what it names (null clears).
            #expect(try await app.call(.PATCH, "\(base)/\(id)", auth: fx.viewer, body: .object(recordCase.update)).status == .forbidden)
            let updated = try await app.call(.PATCH, "\(base)/\(publicID)", auth: fx.staff, body: .object(recordCase.update))
            #expect(updated.status == .ok, "\(updated.text)")
            let after = try RecordFixture.object(updated.text)
            for (key, value) in recordCase.update.merging(recordCase.updateExpect, uniquingKeysWith: { $1 }) {
                #expect(after[key] == value, "\(recordCase.key).\(key) after update: \(after[key] ?? .null) ≠ \(value)")
            }
            for (key, value) in record where recordCase.update[key] == nil && !["updated_at"].contains(key) {
                #expect(after[key] == value, "\(recordCase.key).\(key) changed by an update that did not name it")
            }
            #expect(try await fx.auditActions(id, table: collection.table).sorted() == ["INSERT", "UPDATE"])
            let audit = try #require(try await AuditLog.query(on: app.db).filter(\.$recordID == id).filter(\.$action == "UPDATE").first())
            #expect(audit.oldValues == .object(record))
            #expect(audit.newValues == .object(after))
            #expect(audit.$user.id != nil)

            // Delete: staff only; gone afterwards; audited with the old values.
            #expect(try await app.call(.DELETE, "\(base)/\(id)", auth: fx.viewer).status == .forbidden)
            #expect(try await app.call(.DELETE, "\(base)/\(id)", auth: fx.staff).status == .noContent)
            #expect(try await app.call(.GET, "\(base)/\(id)", auth: fx.staff).status == .notFound)
            #expect(try await app.call(.DELETE, "\(base)/\(id)", auth: fx.staff).status == .notFound)
            #expect(try await fx.auditActions(id, table: collection.table).sorted() == ["DELETE", "INSERT", "UPDATE"])
        }
    }

    @Test("cursor paging walks every record once, oldest first, without gaps or repeats", arguments: RecordCases.all)
    func paging(_ recordCase: RecordCase) async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            var made: [JSONValue] = []
            for _ in 0..<5 { made.append(try #require(try await fx.create(recordCase)["id"])) }
            if recordCase.collection.parent != nil { _ = try await fx.create(recordCase, other: true) }
            var seen: [JSONValue] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = "limit=2" + (cursor.map { "&cursor=\($0.queryEncoded)" } ?? "")
                let page = try await fx.list("\(fx.path(recordCase.collection))?\(query)")
                #expect(page.status == .ok, "\(page.text)")
                #expect(page.data.count <= 2)
                seen += page.data.compactMap { $0["id"] }
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            // The same rows, in the same order, as one page of everything: nothing skipped, nothing twice.
            let everything = try await fx.list("\(fx.path(recordCase.collection))?limit=200").data.compactMap { $0["id"] }
            #expect(seen == everything)
            #expect(seen.count == Set(seen).count, "a record was listed twice")
            #expect(Set(made).isSubset(of: Set(seen)), "a record was skipped")
            #expect(pages == (seen.count + 1) / 2)
        }
    }

    @Test("a patient's progress in one training program is one record: a second one, or moving another onto it, is 409")
    func trainingProgressUnique() async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let training = RecordCases.byKey["training"]!
            let first = try await fx.create(training)
            let second = try await fx.create(training)
            let base = fx.path(training.collection)
            let duplicate = try await app.call(.POST, base, auth: fx.staff, body: ["program_id": try #require(first["program_id"])])
            #expect(duplicate.status == .conflict, "\(duplicate.text)")
            let moved = try await app.call(.PATCH, "\(base)/\(try #require(second["id"]?.stringValue))", auth: fx.staff,
                                           body: ["program_id": try #require(first["program_id"])])
            #expect(moved.status == .conflict, "\(moved.text)")
            // Another patient may follow the same program.
            let other = try await app.call(.POST, fx.path(training.collection, other: true), auth: fx.staff,
                                           body: ["program_id": try #require(first["program_id"])])
            #expect(other.status == .created)
            #expect(try await fx.list("\(base)?limit=200").data.count == 2)
        }
    }
}
