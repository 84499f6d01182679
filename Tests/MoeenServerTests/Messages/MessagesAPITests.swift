import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Messages API")
struct MessagesAPITests {
    @Test("a message is accepted (202, recipient normalised, one queued event), delivered through the stand-in, and shows its events")
    func acceptAndDeliver() async throws {
        try await withSMSFixture { fx in
            let staff = try await fx.app.bearer(role: .staff)
            let accepted = try await fx.app.sendMessage(["channel": "sms", "to": "055 123-4567", "text": "موعدك غداً الساعة ٩"], auth: staff)
            #expect(accepted.status == .accepted, "\(accepted.text)")
            let publicID = try #require(accepted.json["public_id"] as? String)
            #expect(publicID.hasPrefix("msg_"))
            #expect(accepted.json["to"] as? String == "+966551234567")
            #expect(accepted.json["status"] as? String == "queued")
            #expect((accepted.json["events"] as? [[String: Any]])?.map { $0["source"] as? String } == ["api"])

            let clock = ManualClock(Date())
            #expect(try await fx.app.testDispatcher(clock: clock).drainOnce() == 1)
            let sent = await fx.twilio.state.sent
            #expect(sent.count == 1)
            #expect(sent.first?.form["To"] == "+966551234567")
            #expect(sent.first?.form["Body"] == "موعدك غداً الساعة ٩")

            let shown = try await fx.app.call(.GET, "api/messages/\(publicID)", auth: staff)
            #expect(shown.status == .ok)
            #expect(shown.json["status"] as? String == "sent")
            #expect(shown.json["provider_message_id"] as? String == sent.first?.sid)
            #expect(shown.json["attempts"] as? Int == 1)
            #expect((shown.json["events"] as? [[String: Any]])?.map { $0["status"] as? String } == ["queued", "sending", "sent"])
            #expect(shown.json["sent_at"] is String)
        }
    }

    @Test("Idempotency-Key: the same body (keys in any order) answers the first message; another body is 409; keys are per user and at most 255 characters")
    func idempotency() async throws {
        try await withSMSFixture { fx in
            let staff = try await fx.app.bearer(role: .staff)
            let first = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "hello"], auth: staff, key: "reminder-42")
            #expect(first.status == .accepted)
            let again = try await fx.app.sendMessage(["text": "hello", "to": "+966551234567", "channel": "sms"], auth: staff, key: "reminder-42")
            #expect(again.status == .accepted)
            #expect(again.json["id"] as? String == first.json["id"] as? String)
            #expect(again.headers.first(name: "Idempotent-Replayed") == "true")

            let other = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "other"], auth: staff, key: "reminder-42")
            #expect(other.status == .conflict)
            #expect(try errorCode(other.0, other.text) == "idempotency_key_reused")

            // Another user's key space is their own.
            let manager = try await fx.app.bearer(role: .manager)
            let theirs = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "other"], auth: manager, key: "reminder-42")
            #expect(theirs.status == .accepted)
            #expect(theirs.json["id"] as? String != first.json["id"] as? String)

            let long = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "x"], auth: staff, key: String(repeating: "k", count: 256))
            #expect(long.status == .unprocessableEntity)
            #expect((long.json["error"] as? [String: Any]).flatMap { $0["fields"] as? [String: String] }?["Idempotency-Key"] != nil)

            let count = try await OutboundMessage.query(on: fx.app.db).count()
            #expect(count == 2)
        }
    }

    @Test("every validation problem is a 422 naming the field, and nothing is stored")
    func validation() async throws {
        try await withSMSFixture { fx in
            let staff = try await fx.app.bearer(role: .staff)
            let disabled = try await TestConnectionTests.create(fx.app, auth: fx.admin, type: .sms, settings: [
                "api_url": "http://127.0.0.1:9", "account_sid": "AC" + String(repeating: "1", count: 32),
                "auth_token": "another-fake-token", "from_number": "+15550000009",
            ])
            let patch = try await fx.app.call(.PATCH, "api/integrations/\(disabled)", auth: fx.admin, body: ["is_enabled": false])
            #expect(patch.status == .ok, "\(patch.text)")
            let slackRow = try await IntegrationConfig.query(on: fx.app.db).filter(\.$integrationType == "slack").first()
            let slackID = try #require(slackRow?.publicID)

            let cases: [(JSONValue, String)] = [
                (["channel": "pigeon", "to": "+966551234567", "text": "x"], "channel"),
                (["to": "+966551234567", "text": "x"], "channel"),
                (["channel": "sms", "to": "12", "text": "x"], "to"),
                (["channel": "sms", "to": "not a number", "text": "x"], "to"),
                (["channel": "whatsapp", "to": "0551234567", "text": "x"], "channel"),
                (["channel": "email", "to": "nobody", "text": "x"], "to"),
                (["channel": "sms", "to": "+966551234567"], "text"),
                (["channel": "sms", "to": "+966551234567", "text": ""], "text"),
                (["channel": "sms", "to": "+966551234567", "text": .string(String(repeating: "a", count: 1601))], "text"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "template": ["name": "t", "language": "ar"]], "template"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "integration_config_id": .string(disabled)], "integration_config_id"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "integration_config_id": .string(slackID)], "integration_config_id"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "integration_config_id": "int_20260101_00000000"], "integration_config_id"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "scheduled_at": "tomorrow at nine"], "scheduled_at"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "priority": "very"], "priority"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "patient_id": "pat_20260101_00000000"], "patient_id"),
                (["channel": "sms", "to": 966551234567, "text": "x"], "to"),
            ]
            for (body, field) in cases {
                let answer = try await fx.app.sendMessage(body, auth: staff)
                #expect(answer.status == .unprocessableEntity, "\(body.jsonText()): \(answer.text)")
                let fields = (answer.json["error"] as? [String: Any])?["fields"] as? [String: String]
                #expect(fields?[field] != nil, "\(body.jsonText()) should name \(field): \(answer.text)")
            }
            // WhatsApp's limit is 4,096 characters (an enabled WhatsApp integration is needed to get that far).
            try await withStandIn(.whatsapp) { _, settings in
                _ = try await TestConnectionTests.create(fx.app, auth: fx.admin, type: .whatsapp, settings: settings)
                let long = try await fx.app.sendMessage(["channel": "whatsapp", "to": "+966551234567", "text": .string(String(repeating: "ب", count: 4097))], auth: staff)
                #expect(long.status == .unprocessableEntity)
                #expect(((long.json["error"] as? [String: Any])?["fields"] as? [String: String])?["text"]?.contains("4096") == true)
                let fits = try await fx.app.sendMessage(["channel": "whatsapp", "to": "+966551234567", "text": .string(String(repeating: "ب", count: 4096))], auth: staff)
                #expect(fits.status == .accepted)
                let template = try await fx.app.sendMessage(["channel": "whatsapp", "to": "+966551234567", "template": ["name": "appointment_reminder", "language": "ar", "parameters": ["غداً"]]], auth: staff)
                #expect(template.status == .accepted, "\(template.text)")
            }
            let malformed = try await fx.app.call(.POST, "api/messages", auth: staff, body: nil)
            #expect(malformed.status == .badRequest || malformed.status == .unprocessableEntity)
            let stored = try await OutboundMessage.query(on: fx.app.db).count()
            #expect(stored == 2)
            let scheduled = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "x", "scheduled_at": "2030-01-02T09:00:00+03:00"], auth: staff)
            #expect(scheduled.status == .accepted)
            #expect(scheduled.json["next_attempt_at"] as? String == "2030-01-02T06:00:00Z")
        }
    }

    @Test("cancel takes queued messages only, retry failed or dead ones only (409 otherwise); both need a manager; viewers see recipients masked")
    func retryCancelAndRoles() async throws {
        try await withSMSFixture { fx in
            let staff = try await fx.app.bearer(role: .staff)
            let manager = try await fx.app.bearer(role: .manager)
            let viewer = try await fx.app.bearer(role: .viewer)
            let queued = try #require(try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "a"], auth: staff).json["public_id"] as? String)

            #expect(try await fx.app.call(.POST, "api/messages/\(queued)/cancel", auth: staff).status == .forbidden)
            #expect(try await fx.app.call(.POST, "api/messages/\(queued)/retry", auth: manager).status == .conflict)
            let cancelled = try await fx.app.call(.POST, "api/messages/\(queued)/cancel", auth: manager)
            #expect(cancelled.status == .ok)
            #expect(cancelled.json["status"] as? String == "cancelled")
            let twice = try await fx.app.call(.POST, "api/messages/\(queued)/cancel", auth: manager)
            #expect(twice.status == .conflict)
            #expect((twice.json["error"] as? [String: Any])?["code"] as? String == "invalid_state")

            // A permanent error: the stand-in's account does not own the sender number.
            await fx.twilio.state.update { $0.fromNumbers = [] }
            let doomed = try #require(try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "b"], auth: staff).json["public_id"] as? String)
            let clock = ManualClock(Date())
            try await fx.app.testDispatcher(clock: clock).drainOnce()
            let failed = try await fx.app.message(doomed)
            #expect(failed.status == "failed")
            #expect(failed.lastErrorCode == "21606")
            #expect(try await fx.app.call(.POST, "api/messages/\(doomed)/retry", auth: staff).status == .forbidden)
            let retried = try await fx.app.call(.POST, "api/messages/\(doomed)/retry", auth: manager)
            #expect(retried.status == .ok, "\(retried.text)")
            #expect(retried.json["status"] as? String == "queued")
            #expect(retried.json["attempts"] as? Int == 0)
            await fx.twilio.state.update { $0.fromNumbers = ["+15550000002"] }
            clock.advance(60)
            try await fx.app.testDispatcher(clock: clock).drainOnce()
            #expect(try await fx.app.message(doomed).status == "sent")
            #expect(try await fx.app.eventStatuses(doomed) == ["queued", "sending", "failed", "queued", "sending", "sent"])

            let seen = try await fx.app.call(.GET, "api/messages/\(doomed)", auth: viewer)
            #expect(seen.status == .ok)
            #expect(seen.json["to"] as? String == PhoneNumber.masked("+966551234567"))
            #expect(!seen.text.contains("+966551234567"))
            let listed = try await fx.app.call(.GET, "api/messages?status=sent&channel=sms", auth: viewer)
            #expect((listed.json["data"] as? [[String: Any]])?.count == 1)
            #expect(!listed.text.contains("551234567"))
            let bad = try await fx.app.call(.GET, "api/messages?status=lost", auth: viewer)
            #expect(bad.status == .unprocessableEntity)
            #expect(try await fx.app.call(.GET, "api/messages/msg_20260101_0000000000000000", auth: viewer).status == .notFound)
            #expect(try await fx.app.call(.POST, "api/messages", auth: viewer, body: ["channel": "sms", "to": "+966551234567", "text": "c"]).status == .forbidden)
        }
    }

    @Test("lists page newest first with a cursor and filter by status, channel and since")
    func listing() async throws {
        try await withSMSFixture { fx in
            var ids: [String] = []
            for index in 0..<5 {
                let answer = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": .string("n\(index)")], auth: fx.admin)
                ids.append(try #require(answer.json["public_id"] as? String))
            }
            let page1 = try await fx.app.call(.GET, "api/messages?limit=3", auth: fx.admin)
            let first = try #require(page1.json["data"] as? [[String: Any]])
            #expect(first.count == 3)
            let cursor = try #require(page1.json["next_cursor"] as? String)
            let page2 = try await fx.app.call(.GET, "api/messages?limit=3&cursor=\(cursor)", auth: fx.admin)
            let second = try #require(page2.json["data"] as? [[String: Any]])
            #expect(second.count == 2)
            let seen = (first + second).compactMap { $0["public_id"] as? String }
            #expect(Set(seen) == Set(ids))
            #expect(try await fx.app.call(.GET, "api/messages?channel=email", auth: fx.admin).json["data"] as? [Any] != nil)
            let future = try await fx.app.call(.GET, "api/messages?since=2999-01-01T00:00:00Z", auth: fx.admin)
            #expect((future.json["data"] as? [Any])?.isEmpty == true)
            #expect(try await fx.app.call(.GET, "api/messages?since=yesterday", auth: fx.admin).status == .unprocessableEntity)
        }
    }

    @Test("an integration messages refer to cannot be deleted (409 integration_in_use); disabling it still works")
    func integrationInUse() async throws {
        try await withSMSFixture { fx in
            _ = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "x"], auth: fx.admin)
            let deleted = try await fx.app.call(.DELETE, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(deleted.status == .conflict)
            #expect((deleted.json["error"] as? [String: Any])?["code"] as? String == "integration_in_use")
            let disabled = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin, body: ["is_enabled": false])
            #expect(disabled.status == .ok)
        }
    }
}

/// `error.code` of a JSON error body.
func errorCode(_ status: HTTPStatus, _ text: String) throws -> String? {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    return (object?["error"] as? [String: Any])?["code"] as? String
}
