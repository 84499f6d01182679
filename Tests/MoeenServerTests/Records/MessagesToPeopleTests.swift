import Fluent
import Foundation
@testable import MoeenConnectors
import MoeenCore
import SQLKit
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Records: messages to patients and contacts")
struct MessagesToPeopleTests {
    @Test("a message to a patient takes their preferred channel and phone, is delivered, and lists with their reply, newest first")
    func patientMessages() async throws {
        try await WebhookIntakeTests.withWhatsApp { app, admin, integration, _, _ in
            let staff = try await app.bearer(role: .staff)
            let viewer = try await app.bearer(role: .viewer)
            let made = try await app.call(.POST, "/api/patients", auth: staff, body: [
                "full_name": "سارة", "phone": "050 123 4567", "preferred_channel": "whatsapp",
            ])
            let patientID = try #require(made.json["public_id"] as? String)
            let patientUUID = try #require(made.json["id"] as? String)

            let sent = try await app.sendMessage(["patient_id": .string(patientID), "text": "موعدك غداً الساعة ٩"], auth: staff)
            #expect(sent.status == .accepted, "\(sent.text)")
            #expect(sent.json["channel"] as? String == "whatsapp")
            #expect(sent.json["to"] as? String == "+966501234567")
            #expect(sent.json["patient_id"] as? String == patientUUID)
            let messageID = try #require(sent.json["public_id"] as? String)
            try await app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
            let delivered = try await app.message(messageID)
            #expect(delivered.status == "sent")
            #expect(delivered.providerMessageID != nil)

            let reply = WebhookTestData.whatsAppInbound(id: "wamid.PATIENT1", from: "966501234567", text: "شكراً")
            #expect(try await app.postWebhook("webhooks/whatsapp/\(integration)", body: reply, headers: WebhookIntakeTests.signed(reply)).status == .ok)
            try await app.processWebhooks()

            let list = try await app.call(.GET, "/api/patients/\(patientID)/messages", auth: staff)
            #expect(list.status == .ok, "\(list.text)")
            let items = try #require(list.json["data"] as? [[String: Any]])
            #expect(items.map { $0["direction"] as? String } == ["inbound", "outbound"])
            #expect(items.first?["text"] as? String == "شكراً")
            #expect(items.first?["from"] as? String == "+966501234567")
            #expect(items.last?["public_id"] as? String == messageID)
            #expect(items.last?["status"] as? String == "sent")
            #expect(list.json.keys.contains("next_cursor"))

            // Paging walks both kinds once; viewers see the addresses masked; other patients see nothing.
            let first = try await app.call(.GET, "/api/patients/\(patientUUID)/messages?limit=1", auth: viewer)
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await app.call(.GET, "/api/patients/\(patientID)/messages?limit=1&cursor=\(cursor.queryEncoded)", auth: viewer)
            let pages = [first, second].flatMap { ($0.json["data"] as? [[String: Any]]) ?? [] }
            #expect(pages.map { $0["direction"] as? String } == ["inbound", "outbound"])
            #expect(second.json["next_cursor"] is NSNull)
            #expect(pages.first?["from"] as? String == "+9665•••••567")
            #expect(pages.last?["to"] as? String == "+9665•••••567")
            let other = try await app.call(.POST, "/api/patients", auth: staff, body: ["full_name": "Other"])
            let otherID = try #require(other.json["public_id"] as? String)
            #expect((try await app.call(.GET, "/api/patients/\(otherID)/messages", auth: staff).json["data"] as? [Any])?.isEmpty == true)
            let foreign = try await app.call(.GET, "/api/patients/\(otherID)/messages?cursor=\(cursor.queryEncoded)", auth: staff)
            #expect(foreign.status == .badRequest)
            #expect(try await app.call(.GET, "/api/patients/pat_20260101_00000000/messages", auth: staff).status == .notFound)
            _ = admin
        }
    }

    @Test("422 names what the patient lacks; an unknown patient or contact, or both at once, is 422 naming the field")
    func patientLacks() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            let nobody = try await app.call(.POST, "/api/patients", auth: fx.admin, body: ["full_name": "No details"])
            let nobodyID = try #require(nobody.json["public_id"] as? String)
            let refused = try await app.sendMessage(["patient_id": .string(nobodyID), "text": "x"], auth: fx.admin)
            #expect(refused.status == .unprocessableEntity)
            #expect((refused.json["error"] as? [String: Any]).flatMap { ($0["fields"] as? [String: String])?["channel"] }?
                .contains("no preferred channel, phone or e-mail") == true)

            let phoneOnly = try await app.call(.POST, "/api/patients", auth: fx.admin, body: ["full_name": "Phone only", "phone": "0501234567"])
            let phoneOnlyID = try #require(phoneOnly.json["public_id"] as? String)
            let noEmail = try await app.sendMessage(["patient_id": .string(phoneOnlyID), "channel": "email", "text": "x"], auth: fx.admin)
            #expect(noEmail.status == .unprocessableEntity)
            let fields = (noEmail.json["error"] as? [String: Any])?["fields"] as? [String: String]
            #expect(fields?["to"] == "required: the patient has no e-mail address")
            // Without a preferred channel, a patient with a phone gets an SMS.
            let sms = try await app.sendMessage(["patient_id": .string(phoneOnlyID), "text": "x"], auth: fx.admin)
            #expect(sms.json["channel"] as? String == "sms")

            let contact = try await app.call(.POST, "/api/crm/contacts", auth: fx.admin, body: ["first_name": "Email only", "email": "a@example.org"])
            let contactID = try #require(contact.json["public_id"] as? String)
            for (body, field) in [
                (["contact_id": "cnt_20260101_00000000", "channel": "sms", "text": "x"] as JSONValue, "contact_id"),
                (["contact_id": .string(contactID), "patient_id": .string(phoneOnlyID), "text": "x"], "contact_id"),
                (["contact_id": .string(contactID), "channel": "sms", "text": "x"], "to"),
            ] {
                let answer = try await app.sendMessage(body, auth: fx.admin)
                #expect(answer.status == .unprocessableEntity, "\(body.jsonText())")
                #expect(((answer.json["error"] as? [String: Any])?["fields"] as? [String: String])?[field] != nil, "\(answer.text)")
            }
            #expect(try await OutboundMessage.query(on: app.db).filter(\.$contactID != nil).count() == 0)
            #expect(try await CRMContactActivityCount.of(app) == 0)
        }
    }

    @Test("a message to a CRM contact goes to their phone or e-mail, is delivered, and adds an activity (email or note)")
    func contactMessages() async throws {
        try await withSMSFixture { fx in
            try await withStandIn(.email) { sendGrid, settings in
                let app = fx.app
                _ = try await app.makeIntegration(.email, settings: settings, auth: fx.admin)
                let staff = try await app.bearer(role: .staff)
                let made = try await app.call(.POST, "/api/crm/contacts", auth: staff, body: [
                    "first_name": "Khalid", "phone": "0507654321", "email": "Khalid@Example.org",
                ])
                let contactID = try #require(made.json["public_id"] as? String)
                let contactUUID = try #require(made.json["id"] as? String)

                let sms = try await app.sendMessage(["contact_id": .string(contactID), "text": "مرحباً خالد"], auth: staff)
                #expect(sms.status == .accepted, "\(sms.text)")
                #expect(sms.json["channel"] as? String == "sms")
                #expect(sms.json["to"] as? String == "+966507654321")
                #expect(sms.json["contact_id"] as? String == contactUUID)
                let email = try await app.sendMessage(["contact_id": .string(contactUUID), "channel": "email", "subject": "Welcome",
                                                       "text": "Dear Khalid"], auth: staff)
                #expect(email.status == .accepted, "\(email.text)")
                #expect(email.json["to"] as? String == "khalid@example.org")

                let dispatcher = app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5)))
                #expect(try await dispatcher.drainOnce() == 2)
                for answer in [sms, email] {
                    let message = try await app.message(try #require(answer.json["public_id"] as? String))
                    #expect(message.status == "sent", "\(message.channel): \(message.lastError ?? "")")
                }
                #expect(await fx.twilio.sends.sends.contains { $0.to?.hasSuffix("966507654321") == true })
                #expect(await sendGrid.sends.sends.contains { $0.to == "khalid@example.org" })

                let activities = try await app.call(.GET, "/api/crm/contacts/\(contactID)/activities", auth: staff)
                let data = try #require(activities.json["data"] as? [[String: Any]])
                #expect(data.count == 2)
                let bySubject = Dictionary(uniqueKeysWithValues: data.map { ($0["activity_type"] as? String ?? "", $0) })
                #expect(bySubject["note"]?["description"] as? String == "مرحباً خالد")
                #expect((bySubject["note"]?["subject"] as? String)?.contains(try #require(sms.json["public_id"] as? String)) == true)
                #expect(bySubject["email"]?["subject"] as? String == "Welcome")
                #expect(bySubject["email"]?["description"] as? String == "Dear Khalid")
                #expect(data.allSatisfy { $0["contact_id"] as? String == contactUUID })
                let activityID = try #require(data.first?["id"] as? String)
                #expect(try await AuditLog.query(on: app.db).filter(\.$recordID == activityID).count() == 1)

                // The same request again (same key) is the same message: no second activity.
                let keyed = try await app.sendMessage(["contact_id": .string(contactID), "text": "once"], auth: staff, key: "k-1")
                let again = try await app.sendMessage(["contact_id": .string(contactID), "text": "once"], auth: staff, key: "k-1")
                #expect(again.json["public_id"] as? String == keyed.json["public_id"] as? String)
                #expect(try await CRMContactActivityCount.of(app) == 3)
            }
        }
    }
}

extension MessagesToPeopleTests {
    @Test("WhatsApp's 131047 (outside the 24-hour window) is a permanent failure; a patient's refused WhatsApp message falls back to SMS on their phone")
    func outsideWindowFallsBack() async throws {
        let answer = InboundResponse(status: 400, headers: [], body: Array(#"{"error":{"message":"Re-engagement message","type":"OAuthException","code":131047,"error_data":{"details":"More than 24 hours have passed since the recipient last replied"},"fbtrace_id":"A"}}"#.utf8))
        let mapped = WhatsAppConnector.error(from: answer, now: Date())
        #expect(mapped.kind == .permanent)
        #expect(mapped.code == "131047")

        try await withSMSFixture { fx in
            try await withStandIn(.whatsapp) { whatsapp, settings in
                let app = fx.app
                _ = try await app.makeIntegration(.whatsapp, settings: settings, auth: fx.admin)
                let made = try await app.call(.POST, "/api/patients", auth: fx.admin, body: [
                    "full_name": "سارة", "phone": "0501234567", "preferred_channel": "whatsapp",
                ])
                let patientID = try #require(made.json["public_id"] as? String)
                // The stand-in refuses the number permanently (its 131026; 131047 maps to the same kind, as above).
                await whatsapp.faults.set(FaultPlan(rejectRecipients: ["+966501234567"]))
                let sent = try await app.sendMessage(["patient_id": .string(patientID), "text": "موعدك غداً", "fallback_channels": ["sms"]],
                                                     auth: fx.admin)
                #expect(sent.status == .accepted, "\(sent.text)")
                let messageID = try #require(sent.json["public_id"] as? String)
                let dispatcher = app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5)))
                #expect(try await dispatcher.drainOnce() == 1)
                let parent = try await app.message(messageID)
                #expect(parent.status == "failed")
                #expect(parent.attempts == 1)
                let child = try #require(try await OutboundMessage.query(on: app.db).filter(\.$parentID == parent.requireID()).first())
                #expect(child.channel == "sms")
                #expect(child.recipient == "+966501234567")
                #expect(try await dispatcher.drainOnce() == 1)
                #expect(try await app.message(child.publicID).status == "sent")
            }
        }
    }
}

extension MessagesToPeopleTests {
    @Test("a contact's refused SMS falls back to their e-mail without fallback_to; the child keeps contact_id and is an activity too")
    func contactFallback() async throws {
        try await withSMSFixture { fx in
            try await withStandIn(.email) { sendGrid, settings in
                let app = fx.app
                _ = try await app.makeIntegration(.email, settings: settings, auth: fx.admin)
                let made = try await app.call(.POST, "/api/crm/contacts", auth: fx.admin, body: [
                    "first_name": "Huda", "phone": "0501112233", "email": "huda@example.org",
                ])
                let contactID = try #require(made.json["public_id"] as? String)
                await fx.twilio.faults.set(FaultPlan(rejectRecipients: ["+966501112233"]))
                let sent = try await app.sendMessage(["contact_id": .string(contactID), "text": "تذكير", "fallback_channels": ["email"]],
                                                     auth: fx.admin)
                #expect(sent.status == .accepted, "\(sent.text)")
                let parent = try await app.message(try #require(sent.json["public_id"] as? String))
                let dispatcher = app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5)))
                #expect(try await dispatcher.drainOnce() == 1)
                let child = try #require(try await OutboundMessage.query(on: app.db).filter(\.$parentID == parent.requireID()).first())
                #expect(child.channel == "email")
                #expect(child.recipient == "huda@example.org")
                #expect(child.contactID == parent.contactID)
                #expect(try await dispatcher.drainOnce() == 1)
                #expect(try await app.message(child.publicID).status == "sent")
                #expect(await sendGrid.sends.sends.contains { $0.to == "huda@example.org" })
                let activities = try await app.call(.GET, "/api/crm/contacts/\(contactID)/activities", auth: fx.admin)
                let types = (try #require(activities.json["data"] as? [[String: Any]])).compactMap { $0["activity_type"] as? String }
                #expect(types.sorted() == ["email", "note"])
            }
        }
    }
}

/// Rows of `crm_contact_activities`.
enum CRMContactActivityCount {
    static func of(_ app: Application) async throws -> Int {
        let sql = try #require(app.db as? any SQLDatabase)
        return try await sql.raw("SELECT COUNT(*) AS n FROM crm_contact_activities").first()?.decode(column: "n", as: Int.self) ?? -1
    }
}
