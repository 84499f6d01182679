import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor
import VaporTesting

/// The secret setting that, when wrong, makes each provider refuse the credentials.
let credentialField: [IntegrationType: String] = [
    .whatsapp: "access_token", .sms: "auth_token", .email: "api_key", .googleCalendar: "refresh_token",
    .slack: "webhook_url", .seha: "api_key", .tatman: "api_key",
]

/// What each probe learns on success (API.md "TestResult").
let expectedDetail: [IntegrationType: String] = [
    .whatsapp: "verified_name", .sms: "status", .email: "scopes", .googleCalendar: "access_role",
    .slack: "channel", .seha: "name", .tatman: "name",
]

@Suite("Test connection")
struct TestConnectionTests {
    /// Creates an enabled integration of `type` with `settings` through the API; returns its public id.
    static func create(_ app: Application, auth: String, type: IntegrationType, settings: [String: String]) async throws -> String {
        let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
            "integration_type": .string(type.rawValue), "name": .string("Test \(type.rawValue) \(UUID().uuidString.prefix(6))"),
            "is_enabled": true, "config": .object(settings.mapValues(JSONValue.string)),
        ])
        #expect(created.status == .created, "\(created.text)")
        return try #require(created.json["public_id"] as? String)
    }

    @Test("good settings succeed with the probe's facts; bad credentials fail with the provider's message; each test is logged; only tests of the stored settings move the health", arguments: IntegrationType.allCases)
    func matrix(type: IntegrationType) async throws {
        try await withStandIn(type) { _, settings in
            // The provider answers: the default (generous) timeout, so a slow machine cannot fail it.
            try await withMoeenApp { app in
                let auth = try await app.bearer(role: .admin)
                let id = try await Self.create(app, auth: auth, type: type, settings: settings)

                let good = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                #expect(good.status == .ok, "\(good.text)")
                #expect(good.json["status"] as? String == "success", "\(good.text)")
                #expect(good.json["success"] as? Bool == true)
                let details = good.json["details"] as? [String: Any] ?? [:]
                if let key = expectedDetail[type], type != .slack { #expect(details[key] != nil, "\(type) details: \(details)") }
                let firstScore = try #require(good.json["health_score"] as? Int)
                #expect(firstScore > 0)
                let afterGood = try await app.call(.GET, "api/integrations/\(id)", auth: auth)
                #expect(afterGood.json["status"] as? String == "active")
                #expect(afterGood.json["last_test_status"] as? String == "success")

                // Wrong credentials, through the original's call with unsaved settings over the stored row.
                let field = try #require(credentialField[type])
                var wrong = "wrong-credential-\(UUID().uuidString.prefix(8))"
                if field == "webhook_url", let base = settings["webhook_url"] {
                    wrong = base.replacingOccurrences(of: "/services/", with: "/services/TWRONG/")
                }
                let bad = try await app.call(.POST, "api/integrations/test", auth: auth, body: [
                    "integration_config_id": .string(id), "integration_type": .string(type.rawValue), "config": [field: .string(wrong)],
                ])
                #expect(bad.status == .ok)
                #expect(bad.json["status"] as? String == "failed", "\(bad.text)")
                let message = bad.json["message"] as? String ?? ""
                #expect(!message.isEmpty)
                #expect(!bad.text.contains(wrong))
                switch type {
                case .whatsapp: #expect(message.hasPrefix("Invalid OAuth access token"))
                case .sms: #expect(message == "Authenticate")
                case .email: #expect(message.lowercased().contains("authorization required"))
                case .googleCalendar: #expect(message == "Token has been expired or revoked.")
                default: break
                }

                // Every test logged, newest first, with a duration and without any secret.
                let logs = try await app.call(.GET, "api/integrations/\(id)/logs", auth: auth)
                let rows = try #require(logs.json["data"] as? [[String: Any]])
                #expect(rows.map { $0["status"] as? String } == ["failed", "success"])
                for row in rows { #expect(row["duration_ms"] is Int) }
                for secretField in IntegrationCatalog.secretFieldNames(for: type) {
                    if let secret = settings[secretField], secret.count >= 6 { #expect(!logs.text.contains(secret), "\(secretField) leaked into the log") }
                }
                #expect(!logs.text.contains(wrong))
                #expect(!logs.text.lowercased().contains("authorization\":\"bearer"))

                // The failure was of unsaved settings: the stored row's health did not move.
                let health = try await app.call(.GET, "api/integrations/\(id)/health", auth: auth)
                #expect(health.json["status"] as? String == "active")
                #expect(health.json["health_score"] as? Int == firstScore)
                #expect((health.json["history"] as? [Any])?.count == 1)
            }
        }
    }

    @Test("a hung provider: the stored test ends `timeout` within the total timeout, is logged and moves the health", arguments: IntegrationType.allCases)
    func hungProvider(type: IntegrationType) async throws {
        try await withStandIn(type) { standIn, settings in
            // Only this case relies on the timeout, and the provider never answers (a hang, not a race).
            try await withMoeenApp(customize: { $0.providerTimeout = .milliseconds(500) }) { app in
                let auth = try await app.bearer(role: .admin)
                let id = try await Self.create(app, auth: auth, type: type, settings: settings)
                await standIn.faults.set(FaultPlan(hang: true))
                let started = ContinuousClock.now
                let hung = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                let elapsed = ContinuousClock.now - started
                await standIn.faults.clear()
                #expect(hung.json["status"] as? String == "timeout", "\(hung.text)")
                // Only "it returned": the answer being `timeout` is what proves the total timeout works.
                #expect(elapsed < .seconds(120))

                let logs = try await app.call(.GET, "api/integrations/\(id)/logs", auth: auth)
                let rows = try #require(logs.json["data"] as? [[String: Any]])
                #expect(rows.map { $0["status"] as? String } == ["timeout"])
                let health = try await app.call(.GET, "api/integrations/\(id)/health", auth: auth)
                #expect(health.json["status"] as? String == "error")
                #expect(health.json["health_score"] as? Int == 0)
                #expect((health.json["history"] as? [Any])?.count == 1)
            }
        }
    }

    @Test("unsaved settings can be tested without a stored row; an unknown type is a 422")
    func unsaved() async throws {
        try await withStandIn(.whatsapp) { _, settings in
            try await withMoeenApp { app in
                let auth = try await app.bearer(role: .manager)
                let result = try await app.call(.POST, "api/integrations/test", auth: auth, body: [
                    "integration_type": "whatsapp", "config": .object(settings.mapValues(JSONValue.string)),
                ])
                #expect(result.status == .ok)
                #expect(result.json["status"] as? String == "success")
                #expect((result.json["details"] as? [String: Any])?["verified_name"] as? String == "Moeen Test Centre")
                #expect(result.json["log_id"] is NSNull)

                let missing = try await app.call(.POST, "api/integrations/test", auth: auth, body: [
                    "integration_type": "whatsapp", "config": ["api_url": "https://graph.facebook.com/v17.0"],
                ])
                #expect(missing.status == .unprocessableEntity)
                #expect((try errorFieldsOf(missing.json))?["config.access_token"] != nil)

                let unknown = try await app.call(.POST, "api/integrations/test", auth: auth, body: ["integration_type": "pager"])
                #expect(unknown.status == .unprocessableEntity)
                #expect((try errorFieldsOf(unknown.json))?["integration_type"] != nil)
            }
        }
    }

    @Test("a SendGrid key without mail.send, a reader-only Google calendar and a suspended Twilio account each fail saying so")
    func specialFailures() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            try await withStandIn(.email) { standIn, settings in
                await (standIn as? SendGridStandIn)?.state.update { $0.scopes = ["alerts.read"] }
                let id = try await Self.create(app, auth: auth, type: .email, settings: settings)
                let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                #expect(result.json["status"] as? String == "failed")
                #expect((result.json["message"] as? String)?.contains("mail.send") == true, "\(result.text)")
            }
            try await withStandIn(.googleCalendar) { standIn, settings in
                await (standIn as? GoogleCalendarStandIn)?.state.update { $0.accessRole = "reader" }
                let id = try await Self.create(app, auth: auth, type: .googleCalendar, settings: settings)
                let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                #expect(result.json["status"] as? String == "failed")
                #expect((result.json["message"] as? String)?.contains("reader") == true, "\(result.text)")
            }
            try await withStandIn(.sms) { standIn, settings in
                await (standIn as? TwilioStandIn)?.state.update { $0.status = "suspended" }
                let id = try await Self.create(app, auth: auth, type: .sms, settings: settings)
                let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                #expect(result.json["status"] as? String == "failed")
                #expect((result.json["message"] as? String)?.contains("suspended") == true, "\(result.text)")
            }
        }
    }

    @Test("with private targets not allowed, a loopback target is refused before any request is sent")
    func loopbackRefused() async throws {
        try await withStandIn(.seha) { standIn, settings in
            try await withMoeenApp(customize: { $0.allowPrivateTargets = false }) { app in
                let auth = try await app.bearer(role: .admin)
                let result = try await app.call(.POST, "api/integrations/test", auth: auth, body: [
                    "integration_type": "seha", "config": .object(settings.mapValues(JSONValue.string)),
                ])
                #expect(result.status == .ok)
                #expect(result.json["status"] as? String == "failed")
                #expect((result.json["message"] as? String)?.contains("127.0.0.1") == true, "\(result.text)")
                #expect(await standIn.recorder.requests.isEmpty)
            }
        }
    }

    @Test("a test message goes to the recipient (send_message)")
    func sendMessage() async throws {
        try await withStandIn(.sms) { standIn, settings in
            try await withMoeenApp { app in
                let auth = try await app.bearer(role: .admin)
                let id = try await Self.create(app, auth: auth, type: .sms, settings: settings)
                let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth, body: [
                    "test_type": "send_message", "test_recipient": "+966501234567",
                ])
                #expect(result.json["status"] as? String == "success", "\(result.text)")
                #expect(((result.json["details"] as? [String: Any])?["provider_message_id"] as? String)?.hasPrefix("SM") == true)
                let logs = try await app.call(.GET, "api/integrations/\(id)/logs", auth: auth)
                #expect(!logs.text.contains("+966501234567"), "the recipient's number must be masked in the log")
                let noRecipient = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth, body: ["test_type": "send_message"])
                #expect(noRecipient.status == .unprocessableEntity)
                #expect(await standIn.recorder.requests.contains { $0.method == "POST" })
            }
        }
    }
}
