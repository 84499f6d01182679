import Crypto
import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Webhooks")
struct WebhookIntakeTests {
    static let appSecret = "test-app-secret-" + UUID().uuidString
    static let verifyToken = "test-verify-" + UUID().uuidString

    /// A WhatsApp integration on the stand-in with webhook secrets, and one message sent through it.
    static func withWhatsApp<R>(
        _ body: @Sendable (Application, _ admin: String, _ integration: String, _ messageID: String, _ wamid: String) async throws -> R
    ) async throws -> R {
        try await withStandIn(.whatsapp) { _, settings in
            try await withMoeenApp(customize: { $0.delivery = .fastTests }) { app in
                let admin = try await app.bearer(role: .admin)
                var settings = settings
                settings["app_secret"] = appSecret
                settings["webhook_verify_token"] = verifyToken
                let integration = try await app.makeIntegration(.whatsapp, settings: settings, auth: admin)
                let sent = try await app.sendMessage(["channel": "whatsapp", "to": "0551234567", "text": "موعدك غداً"], auth: admin)
                let messageID = try #require(sent.json["public_id"] as? String)
                try await app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
                let wamid = try #require(try await app.message(messageID).providerMessageID)
                return try await body(app, admin, integration, messageID, wamid)
            }
        }
    }

    static func signed(_ body: [UInt8]) -> [(String, String)] {
        [("Content-Type", "application/json"), ("X-Hub-Signature-256", WebhookSignatures.signWhatsApp(body: body, appSecret: appSecret))]
    }

    @Test("WhatsApp: Meta's GET check answers the challenge only with the stored verify token")
    func whatsAppSubscription() async throws {
        try await Self.withWhatsApp { app, _, integration, _, _ in
            let good = try await app.getWebhook("webhooks/whatsapp/\(integration)?hub.mode=subscribe&hub.verify_token=\(Self.verifyToken)&hub.challenge=1158201444")
            #expect(good.status == .ok)
            #expect(good.text == "1158201444")
            let bad = try await app.getWebhook("webhooks/whatsapp/\(integration)?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
            #expect(bad.status == .forbidden)
            #expect(try await app.getWebhook("webhooks/whatsapp/int_20260101_00000000?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1").status == .notFound)
        }
    }

    @Test("WhatsApp statuses: verified, stored once before the 200, applied forward only with webhook events; duplicates change nothing")
    func whatsAppStatuses() async throws {
        try await Self.withWhatsApp { app, admin, integration, messageID, wamid in
            let path = "webhooks/whatsapp/\(integration)"
            let delivered = WebhookTestData.whatsAppStatus(id: wamid, status: "delivered", timestamp: "1767225601")
            #expect(try await app.postWebhook(path, body: delivered, headers: Self.signed(delivered)).status == .ok)
            #expect(try await app.webhookEventCount() == 1)
            // The same event again: 200, nothing new.
            #expect(try await app.postWebhook(path, body: delivered, headers: Self.signed(delivered)).status == .ok)
            #expect(try await app.webhookEventCount() == 1)
            try await app.processWebhooks()
            #expect(try await app.message(messageID).status == "delivered")

            let read = WebhookTestData.whatsAppStatus(id: wamid, status: "read", timestamp: "1767225602")
            #expect(try await app.postWebhook(path, body: read, headers: Self.signed(read)).status == .ok)
            try await app.processWebhooks()
            // A late `delivered` (another timestamp, so another event) after `read` changes nothing.
            let late = WebhookTestData.whatsAppStatus(id: wamid, status: "delivered", timestamp: "1767225603")
            #expect(try await app.postWebhook(path, body: late, headers: Self.signed(late)).status == .ok)
            try await app.processWebhooks()
            let row = try await app.message(messageID)
            #expect(row.status == "read")
            #expect(row.readAt != nil && row.deliveredAt != nil)
            let sources = try await MessageEvent.query(on: app.db).filter(\.$messageID == row.requireID()).all().map { "\($0.status)/\($0.source)" }
            #expect(sources.filter { $0.hasSuffix("/webhook") } == ["delivered/webhook", "read/webhook"])

            let listed = try await app.call(.GET, "api/integrations/\(integration)/webhook-events", auth: admin)
            let events = try #require(listed.json["data"] as? [[String: Any]])
            #expect(events.count == 3)
            #expect(events.map { $0["outcome"] as? String } == ["unchanged", "applied", "applied"])
            #expect(!listed.text.contains("966551234567"), "numbers masked in shown payloads")
        }
    }

    @Test("forged, missing and wrong-secret signatures are 401 and leave only a counter; unknown or disabled integrations 404; malformed 400; too large 413")
    func refusals() async throws {
        try await Self.withWhatsApp { app, admin, integration, _, wamid in
            let path = "webhooks/whatsapp/\(integration)"
            let body = WebhookTestData.whatsAppStatus(id: wamid, status: "delivered")
            #expect(try await app.postWebhook(path, body: body, headers: [("Content-Type", "application/json")]).status == .unauthorized)
            let forged = [("Content-Type", "application/json"), ("X-Hub-Signature-256", WebhookSignatures.signWhatsApp(body: body, appSecret: "not-the-secret"))]
            #expect(try await app.postWebhook(path, body: body, headers: forged).status == .unauthorized)
            var tampered = body
            tampered[tampered.count - 3] = UInt8(ascii: "x")
            #expect(try await app.postWebhook(path, body: tampered, headers: Self.signed(body)).status == .unauthorized)
            #expect(try await app.postWebhook(path, body: body, headers: [("X-Hub-Signature-256", "sha256=zz")]).status == .unauthorized)
            #expect(try await app.webhookEventCount() == 0)
            let listed = try await app.call(.GET, "api/integrations/\(integration)/webhook-events", auth: admin)
            #expect(listed.json["rejected_signatures"] as? Int == 4)

            #expect(try await app.postWebhook("webhooks/whatsapp/int_20260101_00000000", body: body, headers: Self.signed(body)).status == .notFound)
            #expect(try await app.postWebhook("webhooks/pigeon/\(integration)", body: body, headers: Self.signed(body)).status == .notFound)
            #expect(try await app.postWebhook("webhooks/twilio/\(integration)", body: body, headers: Self.signed(body)).status == .notFound)
            let malformed = Array("{\"entry\": [{\"changes\": [{\"value\": {\"statuses\": [{}]}}]}]}".utf8)
            #expect(try await app.postWebhook(path, body: malformed, headers: Self.signed(malformed)).status == .badRequest)
            let notJSON = Array("not json".utf8)
            #expect(try await app.postWebhook(path, body: notJSON, headers: Self.signed(notJSON)).status == .badRequest)
            let huge = [UInt8](repeating: UInt8(ascii: " "), count: 1_100_000)
            #expect(try await app.postWebhook(path, body: huge, headers: Self.signed(huge)).status == .payloadTooLarge)

            let patch = try await app.call(.PATCH, "api/integrations/\(integration)", auth: admin, body: ["is_enabled": false])
            #expect(patch.status == .ok)
            #expect(try await app.postWebhook(path, body: body, headers: Self.signed(body)).status == .notFound)
            #expect(try await app.webhookEventCount() == 0)
        }
    }

    @Test("WhatsApp inbound replies are kept and matched to the patient by phone; STOP / إيقاف opts the sender out, START / اشتراك back in")
    func whatsAppInboundAndStop() async throws {
        try await Self.withWhatsApp { app, admin, integration, _, _ in
            let patient = Patient()
            patient.publicID = PublicID.make(.patient)
            patient.fullName = "سارة"
            patient.phone = "055 123 4567"
            try await patient.create(on: app.db)
            let path = "webhooks/whatsapp/\(integration)"
            let hello = WebhookTestData.whatsAppInbound(id: "wamid.IN1", from: "966551234567", text: "شكراً")
            #expect(try await app.postWebhook(path, body: hello, headers: Self.signed(hello)).status == .ok)
            let stop = WebhookTestData.whatsAppInbound(id: "wamid.IN2", from: "966551234567", text: " إيقاف ")
            #expect(try await app.postWebhook(path, body: stop, headers: Self.signed(stop)).status == .ok)
            try await app.processWebhooks()
            let replies = try await app.call(.GET, "api/inbound-messages", auth: admin)
            let data = try #require(replies.json["data"] as? [[String: Any]])
            #expect(data.count == 2)
            #expect(data.allSatisfy { $0["from"] as? String == "+966551234567" })
            #expect(data.allSatisfy { $0["patient_id"] as? String == patient.id?.uuidString })
            #expect(data.first?["opt_out_action"] as? String == "opt_out")
            let refused = try await app.sendMessage(["channel": "whatsapp", "to": "+966551234567", "text": "x"], auth: admin)
            #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "recipient_opted_out")

            let start = WebhookTestData.whatsAppInbound(id: "wamid.IN3", from: "966551234567", text: "اشتراك")
            #expect(try await app.postWebhook(path, body: start, headers: Self.signed(start)).status == .ok)
            try await app.processWebhooks()
            #expect(try await app.sendMessage(["channel": "whatsapp", "to": "+966551234567", "text": "x"], auth: admin).status == .accepted)
        }
    }

    @Test("a signed webhook carrying U+0000 is stored and applied once (NUL kept as U+FFFD), never a 5xx the provider would retry forever")
    func nulCharacterInASignedWebhook() async throws {
        try await Self.withWhatsApp { app, admin, integration, _, _ in
            let path = "webhooks/whatsapp/\(integration)"
            let body = WebhookTestData.whatsAppInbound(id: "wamid.NUL1", from: "966551234567", text: "before\u{0}after")
            #expect(String(decoding: body, as: UTF8.self).contains("\\u0000"))
            #expect(try await app.postWebhook(path, body: body, headers: Self.signed(body)).status == .ok)
            #expect(try await app.postWebhook(path, body: body, headers: Self.signed(body)).status == .ok)
            try await app.processWebhooks()
            let replies = try await app.call(.GET, "api/inbound-messages", auth: admin)
            let data = try #require(replies.json["data"] as? [[String: Any]])
            #expect(data.count == 1)
            #expect(try await InboundMessage.query(on: app.db).first()?.text == "before\u{FFFD}after")
        }
    }

    @Test("a restart between storing and processing loses nothing, and processing twice applies nothing twice")
    func restartInTheMiddle() async throws {
        // A database that outlives one application: a file (SQLite) or its own PostgreSQL database.
        let (target, cleanup) = try await TestDatabases.makeEmpty()
        do {
            try await Self.restart(target)
            await cleanup()
        } catch {
            await cleanup()
            throw error
        }
    }

    static func restart(_ target: MoeenConfiguration.DatabaseTarget) async throws {
        try await withStandIn(.whatsapp) { _, settings in
            let (integration, messageID, wamid) = try await withMoeenApp(database: target, customize: { $0.delivery = .fastTests }) { app in
                let admin = try await app.bearer(role: .admin)
                var settings = settings
                settings["app_secret"] = Self.appSecret
                let integration = try await app.makeIntegration(.whatsapp, settings: settings, auth: admin)
                let sent = try await app.sendMessage(["channel": "whatsapp", "to": "0551234567", "text": "x"], auth: admin)
                let messageID = try #require(sent.json["public_id"] as? String)
                try await app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
                let wamid = try #require(try await app.message(messageID).providerMessageID)
                let body = WebhookTestData.whatsAppStatus(id: wamid, status: "delivered")
                #expect(try await app.postWebhook("webhooks/whatsapp/\(integration)", body: body, headers: Self.signed(body)).status == .ok)
                return (integration, messageID, wamid)
            }
            _ = integration
            _ = wamid
            try await withMoeenApp(database: target, customize: { $0.delivery = .fastTests }) { app in
                try await app.processWebhooks()
                try await app.processWebhooks()
                let row = try await app.message(messageID)
                #expect(row.status == "delivered")
                let webhookEvents = try await MessageEvent.query(on: app.db).filter(\.$messageID == row.requireID()).filter(\.$source == "webhook").count()
                #expect(webhookEvents == 1)
                #expect(try await WebhookEvent.query(on: app.db).filter(\.$processedAt == nil).count() == 0)
            }
        }
    }

    @Test("a status that may have overtaken its send's record waits while a send is in flight, then is marked unknown; with nothing in flight it is unknown at once")
    func unknownThenKnown() async throws {
        try await Self.withWhatsApp { app, admin, integration, _, _ in
            let path = "webhooks/whatsapp/\(integration)"
            let alone = WebhookTestData.whatsAppStatus(id: "wamid.NOT_OURS_1", status: "delivered")
            #expect(try await app.postWebhook(path, body: alone, headers: Self.signed(alone)).status == .ok)
            try await app.processWebhooks()
            #expect(try await WebhookEvent.query(on: app.db).first()?.outcome == "unknown_message")

            // A send of this integration in flight (claimed, no outcome yet): a status it cannot match waits.
            _ = try await app.sendMessage(["channel": "whatsapp", "to": "0551234567", "text": "in flight"], auth: admin)
            let now = Date().addingTimeInterval(5)
            _ = try await MessageStore(db: app.db).claim(owner: "elsewhere", limit: 10, now: now, leaseUntil: now.addingTimeInterval(60))
            let early = WebhookTestData.whatsAppStatus(id: "wamid.NOT_OURS_2", status: "delivered")
            #expect(try await app.postWebhook(path, body: early, headers: Self.signed(early)).status == .ok)
            try await app.processWebhooks()
            let waiting = try #require(try await WebhookEvent.query(on: app.db).filter(\.$eventID ~~ ["status:wamid.NOT_OURS_2:delivered:1767225600"]).first())
            #expect(waiting.outcome == nil)
            try await app.processWebhooks(now: Date().addingTimeInterval(60))
            let marked = try #require(try await WebhookEvent.query(on: app.db).filter(\.$eventID ~~ ["status:wamid.NOT_OURS_2:delivered:1767225600"]).first())
            #expect(marked.outcome == "unknown_message")
        }
    }
}
