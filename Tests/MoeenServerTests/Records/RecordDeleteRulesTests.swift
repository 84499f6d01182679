import Fluent
import Foundation
import MoeenCore
import SQLKit
@testable import MoeenServer
import Testing
import Vapor

@Suite("Records: delete rules")
struct RecordDeleteRulesTests {
    @Test("deleting a contact keeps its deals (contact_id null) and removes its activities")
    func contactDeleted() async throws {
        try await withMoeenApp { app in
            let fx = try await RecordFixture.make(app)
            let deal = try await fx.create(RecordCases.byKey["deals"]!)
            let activity = try await fx.create(RecordCases.byKey["activities"]!)
            let otherActivity = try await fx.create(RecordCases.byKey["activities"]!, other: true)
            #expect(deal["contact_id"] != .null)
            #expect(try await app.call(.DELETE, "/api/crm/contacts/\(fx.contact)", auth: fx.staff).status == .noContent)

            let kept = try await app.call(.GET, "/api/crm/deals/\(try #require(deal["id"]?.stringValue))", auth: fx.staff)
            #expect(kept.status == .ok)
            let keptDeal = try RecordFixture.object(kept.text)
            #expect(keptDeal["contact_id"] == .null)
            #expect(keptDeal["title"] == deal["title"])
            let activityID = try #require(activity["id"]?.stringValue)
            #expect(try await CRMContact.query(on: app.db).count() == 1)
            #expect(try await app.call(.GET, "/api/crm/contacts/\(fx.contact)/activities", auth: fx.staff).status == .notFound)
            let remaining = try await fx.list(fx.path(RecordCollections.activities, other: true)).data.map { $0["id"] }
            #expect(remaining == [otherActivity["id"]])
            let sql = try #require(app.db as? any SQLDatabase)
            let gone = try await sql.raw("SELECT COUNT(*) AS n FROM crm_contact_activities WHERE id = \(bind: try #require(UUID(uuidString: activityID)))")
                .first()?.decode(column: "n", as: Int.self)
            #expect(gone == 0)
        }
    }

    @Test("deleting a patient removes their care records, keeps their messages and replies (patient_id null), leaves other patients alone")
    func patientDeleted() async throws {
        try await withSMSFixture { sms in
            let app = sms.app
            let fx = try await RecordFixture.make(app)
            let patient = try await fx.create(RecordCases.byKey["patients"]!, ["preferred_channel": "sms"])
            let patientID = try #require(patient["id"]?.stringValue)
            let patientPath = "/api/patients/\(patientID)"
            var careIDs: [(RecordCollection, JSONValue)] = []
            for key in ["goals", "assessments", "reports", "training", "family", "support-sessions"] {
                let recordCase = RecordCases.byKey[key]!
                let body = JSONValue.object(try await fx.resolve(recordCase.create))
                let made = try await app.call(.POST, "\(patientPath)/\(recordCase.collection.path[0])", auth: fx.staff, body: body)
                #expect(made.status == .created, "\(made.text)")
                careIDs.append((recordCase.collection, .string(try #require(made.json["id"] as? String))))
                _ = try await fx.create(recordCase) // the fixture's own patient keeps theirs
            }
            let sent = try await app.sendMessage(["patient_id": .string(patientID), "text": "موعدك غداً"], auth: fx.staff)
            #expect(sent.status == .accepted, "\(sent.text)")
            let messageID = try #require(sent.json["public_id"] as? String)
            let reply = InboundMessage()
            reply.id = UUID()
            reply.publicID = PublicID.make(.inboundMessage, randomHexDigits: 16)
            reply.channel = "sms"
            reply.from = "+966501234567"
            reply.text = "شكراً"
            reply.receivedAt = Date()
            reply.patientID = UUID(uuidString: patientID)
            try await reply.create(on: app.db)

            #expect(try await app.call(.DELETE, patientPath, auth: fx.viewer).status == .forbidden)
            #expect(try await app.call(.DELETE, patientPath, auth: fx.staff).status == .noContent)
            #expect(try await app.call(.GET, patientPath, auth: fx.staff).status == .notFound)
            let sql = try #require(app.db as? any SQLDatabase)
            for (collection, id) in careIDs {
                let uuid = try #require(id.stringValue.flatMap(UUID.init(uuidString:)))
                let count = try await sql.raw("SELECT COUNT(*) AS n FROM \(ident: collection.table) WHERE id = \(bind: uuid)")
                    .first()?.decode(column: "n", as: Int.self)
                #expect(count == 0, "\(collection.table) kept a deleted patient's row")
                #expect(try await fx.list(fx.path(collection)).data.count == 1, "\(collection.table) lost another patient's row")
            }
            let message = try await app.message(messageID)
            #expect(message.patientID == nil)
            #expect(message.recipient == "+966501234567")
            let keptReply = try #require(try await InboundMessage.find(reply.id, on: app.db))
            #expect(keptReply.patientID == nil)
            #expect(try await fx.auditActions(patientID, table: "patients").sorted() == ["DELETE", "INSERT"])
        }
    }
}
