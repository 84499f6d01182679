import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor

@Suite("Records: filters and search")
struct RecordQueryTests {
    /// The cases with at least one filter on allowed values or a flag.
    static let filtered = RecordCases.all.filter { recordCase in
        recordCase.collection.fields.contains { field in
            guard field.filterable else { return false }
            switch field.kind {
            case .choice, .bool: return true
            default: return false
            }
        }
    }

    @Test("each filter on allowed values and flags returns exactly the matching records; a value outside them is 422",
          arguments: filtered)
    func filters(_ recordCase: RecordCase) async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let base = fx.path(recordCase.collection)
            for field in recordCase.collection.fields where field.filterable {
                let values: [JSONValue]
                switch field.kind {
                case .choice(let allowed): values = allowed.prefix(2).map(JSONValue.string)
                case .bool: values = [true, false]
                default: continue
                }
                var ids: [JSONValue: JSONValue] = [:]
                for value in values { ids[value] = try await fx.create(recordCase, [field.name: value])["id"] }
                for value in values {
                    let raw = value.stringValue ?? (value == true ? "true" : "false")
                    let page = try await fx.list("\(base)?limit=200&\(field.name)=\(raw.queryEncoded)")
                    #expect(page.status == .ok, "\(page.text)")
                    #expect(!page.data.isEmpty && page.data.allSatisfy { $0[field.name] == value }, "\(recordCase.key)?\(field.name)=\(raw)")
                    #expect(page.data.contains { $0["id"] == ids[value] })
                }
                let refused = try await app.call(.GET, "\(base)?\(field.name)=not-a-value", auth: fx.viewer)
                #expect(refused.status == .unprocessableEntity, "\(recordCase.key)?\(field.name)=not-a-value")
                #expect(fieldsOf(refused)[field.name] != nil)
            }
        }
    }

    /// The cases with a searchable free-text field.
    static let searchable = RecordCases.all.filter { recordCase in
        recordCase.collection.searchableFields.contains { if case .text = $0.kind { true } else { false } }
    }

    @Test("q finds records case-insensitively in any script, Arabic letter forms folded; nothing else matches",
          arguments: searchable)
    func search(_ recordCase: RecordCase) async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let base = fx.path(recordCase.collection)
            let field = try #require(recordCase.collection.searchableFields.first { if case .text = $0.kind { true } else { false } })
            let wanted = try await fx.create(recordCase, [field.name: "Élan أحمد Qx_%"])
            _ = try await fx.create(recordCase, [field.name: "Someone else"])
            for query in ["élan", "ÉLAN", "أحمد", "احمد", "إحمد", "ELAN أحمد", "qx_%"] {
                let page = try await fx.list("\(base)?q=\(query.queryEncoded)")
                #expect(page.status == .ok, "\(page.text)")
                #expect(page.data.map { $0["id"] } == [wanted["id"]], "\(recordCase.key)?q=\(query) → \(page.data.count) records")
            }
            for query in ["zzz", "qx__", "%"] {
                let page = try await fx.list("\(base)?q=\(query.queryEncoded)")
                #expect(page.data.isEmpty || query == "%" && page.data.map { $0["id"] } == [wanted["id"]],
                        "\(recordCase.key)?q=\(query) matched")
            }
            let tooLong = try await app.call(.GET, "\(base)?q=\(String(repeating: "a", count: 201))", auth: fx.staff)
            #expect(tooLong.status == .unprocessableEntity)
            #expect(fieldsOf(tooLong)["q"] != nil)
        }
    }

    @Test("q over e-mail, phone (typed in any accepted form) and company; a changed name is found by its new value")
    func searchContacts() async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let contact = try await fx.create(RecordCases.byKey["contacts"]!)
            for query in ["FATIMA@example", "0501234567", "+966 50 123 4567", "1234567", "مركز الهمم", "الحربي"] {
                let page = try await fx.list("/api/crm/contacts?q=\(query.queryEncoded)")
                #expect(page.data.map { $0["id"] } == [contact["id"]], "q=\(query)")
            }
            let id = try #require(contact["id"]?.stringValue)
            _ = try await app.call(.PATCH, "/api/crm/contacts/\(id)", auth: fx.staff, body: ["company": "Hope Centre"])
            #expect(try await fx.list("/api/crm/contacts?q=hope").data.map { $0["id"] } == [contact["id"]])
            #expect(try await fx.list("/api/crm/contacts?q=\("مركز الهمم".queryEncoded)").data.isEmpty)
        }
    }

    @Test("created_after and created_before bound the list; a bad time is 422 naming the parameter; deals filter by contact")
    func createdBoundsAndReferences() async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let lead = try await fx.create(RecordCases.byKey["leads"]!)
            let created = try #require(lead["created_at"]?.stringValue)
            let past = "2000-01-01T00:00:00Z", future = "2999-01-01T00:00:00Z"
            #expect(try await fx.list("/api/crm/leads?created_after=\(past)").data.count == 1)
            #expect(try await fx.list("/api/crm/leads?created_after=\(future)").data.isEmpty)
            #expect(try await fx.list("/api/crm/leads?created_before=\(future)").data.count == 1)
            #expect(try await fx.list("/api/crm/leads?created_before=\(past)").data.isEmpty)
            #expect(try await fx.list("/api/crm/leads?created_after=\(created.queryEncoded)&created_before=\(future)").data.count == 1)
            let goal = try await fx.create(RecordCases.byKey["goals"]!)
            #expect(try await fx.list("\(fx.path(RecordCollections.goals))?created_after=\(past)").data.map { $0["id"] } == [goal["id"]])
            for key in ["created_after", "created_before"] {
                let refused = try await app.call(.GET, "/api/crm/leads?\(key)=yesterday", auth: fx.staff)
                #expect(refused.status == .unprocessableEntity)
                #expect(fieldsOf(refused)[key] != nil)
            }

            let deal = try await fx.create(RecordCases.byKey["deals"]!)
            _ = try await fx.create(RecordCases.byKey["deals"]!, ["contact_id": nil])
            #expect(try await fx.list("/api/crm/deals?contact_id=\(fx.contact)").data.map { $0["id"] } == [deal["id"]])
            #expect(try await fx.list("/api/crm/deals?contact_id=\(fx.otherContact)").data.isEmpty)
            let unknown = try await app.call(.GET, "/api/crm/deals?contact_id=cnt_20260101_00000000", auth: fx.staff)
            #expect(unknown.status == .unprocessableEntity)
            #expect(fieldsOf(unknown)["contact_id"] != nil)
            // A reference may name the row by public id too.
            let byPublicID = try await fx.create(RecordCases.byKey["deals"]!, ["contact_id": .string(fx.otherContact)])
            #expect(byPublicID["contact_id"]?.stringValue == (try await fx.uuid(of: "/api/crm/contacts/\(fx.otherContact)")))
        }
    }

    @Test("U+0000 anywhere (body, key, query, id) is a 422 or 404 on both databases, never a 500")
    func nulCharacters() async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            for (body, field) in [
                (["first_name": "a\u{0}b"] as JSONValue, "first_name"),
                (["first_name": "a", "social_media": ["k\u{0}": 1]], "social_media"),
                (["first_name": "a", "tags": ["x\u{0}"]], "tags"),
            ] {
                let refused = try await app.call(.POST, "/api/crm/contacts", auth: fx.staff, body: body)
                #expect(refused.status == .unprocessableEntity, "\(refused.text)")
                #expect(fieldsOf(refused)[field] != nil)
            }
            let search = try await app.call(.GET, "/api/crm/contacts?q=%00", auth: fx.staff)
            #expect(search.status == .unprocessableEntity)
            #expect(try await app.call(.GET, "/api/crm/contacts?source=a%00", auth: fx.staff).status == .unprocessableEntity)
            #expect(try await app.call(.GET, "/api/crm/contacts/cnt_%00", auth: fx.staff).status == .notFound)
            #expect(try await app.call(.GET, "/api/patients/pat_%00/goals", auth: fx.staff).status == .notFound)
            let message = try await app.sendMessage(["contact_id": "cnt_\u{0}", "channel": "sms", "to": "0501234567", "text": "x"], auth: fx.staff)
            #expect(message.status == .unprocessableEntity)
            let patient = try await app.sendMessage(["patient_id": "pat_\u{0}", "text": "x"], auth: fx.staff)
            #expect(patient.status == .unprocessableEntity)
        }
    }
}
