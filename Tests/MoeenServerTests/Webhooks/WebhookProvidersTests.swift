import Crypto
import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Webhooks per provider")
struct WebhookProvidersTests {
    static let publicURL = "https://hub.example.org"

    static func form(_ pairs: [(String, String)]) -> [UInt8] { Array(FormURLEncoding.encode(pairs).utf8) }

    @Test("Twilio: every SMS asks for status callbacks at the webhook URL; callbacks signed over the public URL (with or without :443) apply; undelivered fails; inbound STOP and START")
    func twilio() async throws {
        try await withSMSFixture(customize: { $0.publicURL = Self.publicURL }) { fx in
            let sent = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "a"], auth: fx.admin)
            let messageID = try #require(sent.json["public_id"] as? String)
            try await fx.app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
            let path = "/webhooks/twilio/\(fx.integrationID)"
            let accepted = try #require(await fx.twilio.state.sent.first)
            #expect(accepted.form["StatusCallback"] == Self.publicURL + path)
            let sid = accepted.sid
            let token = "fake-twilio-auth-token"

            let delivered: [(String, String)] = [("MessageSid", sid), ("MessageStatus", "delivered"), ("To", "+966551234567"), ("AccountSid", "AC00")]
            let signature = WebhookSignatures.signTwilio(url: Self.publicURL + path, formParameters: delivered, authToken: token)
            let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", signature)]
            #expect(try await fx.app.postWebhook(String(path.dropFirst()), body: Self.form(delivered), headers: headers).status == .ok)
            try await fx.app.processWebhooks()
            #expect(try await fx.app.message(messageID).status == "delivered")

            // Twilio may sign the URL with the default port spelled out.
            let read: [(String, String)] = [("MessageSid", sid), ("MessageStatus", "read")]
            let withPort = WebhookSignatures.signTwilio(url: "https://hub.example.org:443" + path, formParameters: read, authToken: token)
            #expect(try await fx.app.postWebhook(String(path.dropFirst()), body: Self.form(read),
                                                 headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", withPort)]).status == .ok)
            let wrong = WebhookSignatures.signTwilio(url: Self.publicURL + path, formParameters: read, authToken: "other-token")
            #expect(try await fx.app.postWebhook(String(path.dropFirst()), body: Self.form(read),
                                                 headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", wrong)]).status == .unauthorized)
            try await fx.app.processWebhooks()
            #expect(try await fx.app.message(messageID).status == "read")

            // A second message that the carrier could not deliver.
            let second = try #require(try await fx.app.sendMessage(["channel": "sms", "to": "+966551234568", "text": "b"], auth: fx.admin).json["public_id"] as? String)
            try await fx.app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
            let secondSID = try #require(await fx.twilio.state.sent.last?.sid)
            let undelivered: [(String, String)] = [("MessageSid", secondSID), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")]
            let undeliveredSignature = WebhookSignatures.signTwilio(url: Self.publicURL + path, formParameters: undelivered, authToken: token)
            #expect(try await fx.app.postWebhook(String(path.dropFirst()), body: Self.form(undelivered),
                                                 headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", undeliveredSignature)]).status == .ok)
            try await fx.app.processWebhooks()
            let failed = try await fx.app.message(second)
            #expect(failed.status == "failed")
            #expect(failed.lastErrorCode == "30003")

            // Inbound: STOP from the patient's phone opts them out of SMS; START opts them back in.
            for (index, word) in ["STOP", "START"].enumerated() {
                let inbound: [(String, String)] = [("MessageSid", "SMin\(index)"), ("SmsStatus", "received"), ("From", "+966551234567"),
                                                   ("To", "+15550000002"), ("Body", word)]
                let inboundSignature = WebhookSignatures.signTwilio(url: Self.publicURL + path, formParameters: inbound, authToken: token)
                #expect(try await fx.app.postWebhook(String(path.dropFirst()), body: Self.form(inbound),
                                                     headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", inboundSignature)]).status == .ok)
                try await fx.app.processWebhooks()
                let optedOut = try await OptOuts.isOptedOut(channel: "sms", address: "+966551234567", on: fx.app.db)
                #expect(optedOut == (word == "STOP"))
            }
        }
    }

    @Test("SendGrid: ECDSA-signed events with a key made here; delivered then open (read); sg_message_id matched by the X-Message-Id prefix; stale timestamps refused")
    func sendGrid() async throws {
        try await withSMSFixture { fx in
            try await withStandIn(.email) { standIn, settings in
                let key = P256.Signing.PrivateKey()
                var settings = settings
                settings["webhook_public_key"] = WebhookSignatures.sendGridPublicKeySetting(key.publicKey)
                let integration = try await fx.app.makeIntegration(.email, settings: settings, auth: fx.admin)
                let sent = try await fx.app.sendMessage(["channel": "email", "to": "Family@Example.org", "text": "report", "subject": "تقرير"], auth: fx.admin)
                let messageID = try #require(sent.json["public_id"] as? String)
                try await fx.app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
                let xMessageID = try #require(try await fx.app.message(messageID).providerMessageID)
                _ = standIn
                let path = "webhooks/sendgrid/\(integration)"
                let now = Int64(Date().timeIntervalSince1970)
                func post(_ events: JSONValue, timestamp: Int64) async throws -> HTTPStatus {
                    let body = Array(events.jsonText().utf8)
                    let signature = try WebhookSignatures.signSendGrid(body: body, timestamp: timestamp, privateKey: key)
                    return try await fx.app.postWebhook(path, body: body, headers: [
                        ("Content-Type", "application/json"), ("X-Twilio-Email-Event-Webhook-Signature", signature),
                        ("X-Twilio-Email-Event-Webhook-Timestamp", String(timestamp)),
                    ]).status
                }
                let sgID = xMessageID + ".filter0001.16648.5515E0B88.0"
                #expect(try await post([["email": "family@example.org", "event": "processed", "sg_event_id": "ev-1", "sg_message_id": .string(sgID), "timestamp": .number(Int(now))],
                                        ["email": "family@example.org", "event": "delivered", "sg_event_id": "ev-2", "sg_message_id": .string(sgID), "timestamp": .number(Int(now))]],
                                       timestamp: now) == .ok)
                try await fx.app.processWebhooks()
                #expect(try await fx.app.message(messageID).status == "delivered")
                #expect(try await post([["event": "open", "sg_event_id": "ev-3", "sg_message_id": .string(sgID)]], timestamp: now) == .ok)
                try await fx.app.processWebhooks()
                #expect(try await fx.app.message(messageID).status == "read")
                #expect(try await post([["event": "bounce", "sg_event_id": "ev-4", "sg_message_id": .string(sgID)]], timestamp: now - 600) == .unauthorized)
                #expect(try await WebhookEvent.query(on: fx.app.db).count() == 3)
            }
        }
    }

    @Test("Slack: url_verification answers the challenge; events stored once by event_id; stale requests refused")
    func slack() async throws {
        try await withSMSFixture { fx in
            try await withStandIn(.slack) { _, settings in
                var settings = settings
                settings["signing_secret"] = "slack-signing-secret-for-tests"
                let integration = try await fx.app.makeIntegration(.slack, settings: settings, auth: fx.admin)
                let path = "webhooks/slack/\(integration)"
                func post(_ body: JSONValue, at timestamp: Int64) async throws -> (status: HTTPStatus, text: String) {
                    let bytes = Array(body.jsonText().utf8)
                    return try await fx.app.postWebhook(path, body: bytes, headers: [
                        ("Content-Type", "application/json"), ("X-Slack-Request-Timestamp", String(timestamp)),
                        ("X-Slack-Signature", WebhookSignatures.signSlack(body: bytes, timestamp: timestamp, signingSecret: "slack-signing-secret-for-tests")),
                    ])
                }
                let now = Int64(Date().timeIntervalSince1970)
                let challenge = try await post(["type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"], at: now)
                #expect(challenge.status == .ok)
                #expect(challenge.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
                let event: JSONValue = ["type": "event_callback", "event_id": "Ev0001", "event": ["type": "app_mention", "text": "hi"]]
                #expect(try await post(event, at: now).status == .ok)
                #expect(try await post(event, at: now).status == .ok)
                #expect(try await WebhookEvent.query(on: fx.app.db).count() == 1)
                #expect(try await post(["type": "event_callback", "event_id": "Ev0002"], at: now - 301).status == .unauthorized)
            }
        }
    }

    @Test("Google Calendar push: the channel token is the credential; the resource state is recorded; Seha and Tatman sign with our published contract")
    func googleAndRecordAPIs() async throws {
        try await withSMSFixture { fx in
            try await withStandIn(.googleCalendar) { _, settings in
                var settings = settings
                settings["webhook_channel_token"] = "channel-token-for-tests"
                let integration = try await fx.app.makeIntegration(.googleCalendar, settings: settings, auth: fx.admin)
                let path = "webhooks/google-calendar/\(integration)"
                let headers: (String) -> [(String, String)] = { token in
                    [("X-Goog-Channel-ID", "chan-1"), ("X-Goog-Message-Number", "1"), ("X-Goog-Resource-State", "sync"),
                     ("X-Goog-Resource-ID", "res-1"), ("X-Goog-Channel-Token", token)]
                }
                #expect(try await fx.app.postWebhook(path, body: [], headers: headers("channel-token-for-tests")).status == .ok)
                #expect(try await fx.app.postWebhook(path, body: [], headers: headers("guess")).status == .unauthorized)
                let stored = try #require(try await WebhookEvent.query(on: fx.app.db).first())
                #expect(stored.eventType == "sync")
            }
            for type in [IntegrationType.seha, .tatman] {
                try await withStandIn(type) { _, settings in
                    var settings = settings
                    settings["webhook_secret"] = "partner-secret-\(type.rawValue)"
                    let integration = try await fx.app.makeIntegration(type, settings: settings, auth: fx.admin)
                    let path = "webhooks/\(type.rawValue)/\(integration)"
                    let body = Array(#"{"id":"evt_1","type":"claim.updated"}"#.utf8)
                    let now = Int64(Date().timeIntervalSince1970)
                    let good = WebhookSignatures.signMoeen(body: body, secret: "partner-secret-\(type.rawValue)", timestamp: now)
                    #expect(try await fx.app.postWebhook(path, body: body, headers: [("Content-Type", "application/json"), ("X-Moeen-Signature", good)]).status == .ok)
                    #expect(try await fx.app.postWebhook(path, body: body, headers: [("Content-Type", "application/json"), ("X-Moeen-Signature", good)]).status == .ok)
                    let stale = WebhookSignatures.signMoeen(body: body, secret: "partner-secret-\(type.rawValue)", timestamp: now - 400)
                    #expect(try await fx.app.postWebhook(path, body: body, headers: [("X-Moeen-Signature", stale)]).status == .unauthorized)
                    let id = try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == integration).first()?.id)
                    #expect(try await WebhookEvent.query(on: fx.app.db).filter(\.$integrationID == id).count() == 1)
                }
            }
        }
    }
}
