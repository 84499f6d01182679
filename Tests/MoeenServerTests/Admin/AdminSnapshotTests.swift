import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// The main admin pages as HTML, so a change to a page reads as a diff (`__Snapshots__/`).
@Suite("Admin pages: HTML snapshots")
struct AdminSnapshotTests {
    func snapshot(_ path: String, _ name: String, role: UserRole = .admin,
                  seed: @escaping @Sendable (Application) async throws -> Void = { _ in }) async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            try await seed(app)
            let browser = try await app.browserSession(role: role, email: "\(role.rawValue)@example.org")
            var resolved = path
            for type in ["whatsapp", "sms", "seha"] where path.contains("{\(type)}") {
                resolved = resolved.replacingOccurrences(of: "{\(type)}", with: try await app.integrationID(type))
            }
            let res = try await app.page(resolved, headers: browser.headers)
            #expect(res.status == .ok)
            HTMLSnapshot.assertMatches(res.html, named: name)
        }
    }

    @Test("sign-in page, Arabic and English")
    func login() async throws {
        try await withMoeenApp { app in
            for (path, name) in [("/login", "login.ar"), ("/login?lang=en", "login.en")] {
                let res = try await app.page(path)
                let token = try #require(res.setCookie(LoginController.formCookie)).value
                HTMLSnapshot.assertMatches(res.html.replacingOccurrences(of: token, with: "<form-token>"), named: name)
            }
        }
    }

    @Test("General") func general() async throws { try await snapshot("/settings", "settings-general.ar") }
    @Test("General, English, viewer (quiet hours saved, no form)") func generalViewer() async throws {
        try await snapshot("/settings?lang=en", "settings-general.en.viewer", role: .viewer, seed: Self.seedQuietHours)
    }
    @Test("General, the quiet-hours form refused, English") func generalQuietHoursErrors() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let browser = try await app.browserSession(role: .admin, email: "admin@example.org")
            let res = try await app.postFormFields("/settings/delivery?lang=en", [
                ("csrf_token", browser.csrf), ("enabled", "true"), ("start", "21:00"), ("end", "21:00"), ("timezone", "Mars/Olympus"),
            ], headers: browser.headers)
            #expect(res.status == .unprocessableEntity)
            HTMLSnapshot.assertMatches(res.html, named: "settings-general-quiet-hours-errors.en")
        }
    }
    @Test("Integrations, Arabic") func integrationsAR() async throws { try await snapshot("/settings/integrations", "settings-integrations.ar") }
    @Test("Integrations, English") func integrationsEN() async throws { try await snapshot("/settings/integrations?lang=en", "settings-integrations.en") }
    @Test("Integration form (WhatsApp), Arabic") func integrationAR() async throws { try await snapshot("/settings/integrations/{whatsapp}", "integration-whatsapp.ar") }
    @Test("Integration form (WhatsApp), English, viewer") func integrationViewer() async throws {
        try await snapshot("/settings/integrations/{whatsapp}?lang=en", "integration-whatsapp.en.viewer", role: .viewer)
    }
    @Test("Messages, Arabic, manager") func messagesAR() async throws {
        try await snapshot("/settings/messages", "settings-messages.ar", role: .manager, seed: Self.seedMessages)
    }
    @Test("Messages, English, viewer") func messagesViewer() async throws {
        try await snapshot("/settings/messages?lang=en", "settings-messages.en.viewer", role: .viewer, seed: Self.seedMessages)
    }
    @Test("Messages, empty") func messagesEmpty() async throws { try await snapshot("/settings/messages", "settings-messages-empty.ar") }
    @Test("A failed message, English, manager") func messageEN() async throws {
        try await snapshot("/settings/messages/\(Self.failedMessage)?lang=en", "message-failed.en", role: .manager, seed: Self.seedMessages)
    }
    @Test("A failed message, Arabic, viewer") func messageViewer() async throws {
        try await snapshot("/settings/messages/\(Self.failedMessage)", "message-failed.ar.viewer", role: .viewer, seed: Self.seedMessages)
    }
    @Test("Opt-outs, Arabic, staff") func optOutsAR() async throws {
        try await snapshot("/settings/messages/opt-outs", "settings-opt-outs.ar.staff", role: .staff, seed: Self.seedOptOuts)
    }
    @Test("Opt-outs, English, viewer") func optOutsViewer() async throws {
        try await snapshot("/settings/messages/opt-outs?lang=en", "settings-opt-outs.en.viewer", role: .viewer, seed: Self.seedOptOuts)
    }
    @Test("Integration form (SMS), sending paused, English") func integrationPaused() async throws {
        try await snapshot("/settings/integrations/{sms}?lang=en", "integration-sms-paused.en", seed: Self.seedPausedSMS)
    }
    @Test("Integration form (Seha), webhook events and refused requests, English") func integrationWebhookEvents() async throws {
        try await snapshot("/settings/integrations/{seha}?lang=en", "integration-seha-webhook-events.en", seed: Self.seedWebhookEvents)
    }
    @Test("Inbound replies, Arabic, manager") func inboundAR() async throws {
        try await snapshot("/settings/messages/inbound", "settings-inbound.ar", role: .manager, seed: Self.seedInbound)
    }
    @Test("Inbound replies, English, viewer") func inboundViewer() async throws {
        try await snapshot("/settings/messages/inbound?lang=en", "settings-inbound.en.viewer", role: .viewer, seed: Self.seedInbound)
    }
    @Test("Inbound replies, empty, English") func inboundEmpty() async throws {
        try await snapshot("/settings/messages/inbound?lang=en", "settings-inbound-empty.en", role: .staff)
    }
    @Test("Users") func users() async throws { try await snapshot("/settings/users?lang=en", "settings-users.en") }
    @Test("Security") func security() async throws { try await snapshot("/settings/security", "settings-security.ar") }

    static let failedMessage = "msg_20260301_00000000000000b2"

    /// Quiet hours on, Thursday and Friday nights.
    @Sendable
    static func seedQuietHours(_ app: Application) async throws {
        let preferences = CentreDeliveryPreferences(quietHours: .init(enabled: true, start: "21:00", end: "08:00",
                                                                      days: ["thu", "fri"], timezone: "Asia/Riyadh"))
        try await preferences.save(on: app.db, by: nil, now: Date())
    }

    /// Two opt-outs with fixed public ids and times: one taken by phone, one from a STOP reply.
    @Sendable
    static func seedOptOuts(_ app: Application) async throws {
        let base = try #require(ISO8601DateFormatter().date(from: "2026-03-01T09:00:00Z"))
        try await OptOutFixtures.insert(app, channel: .sms, address: "+966551234567", reason: "Taken by phone",
                                        createdAt: base, publicID: "opt_20260301_0000000000a1")
        try await OptOutFixtures.insert(app, channel: .whatsapp, address: "+966551112222", source: .webhook,
                                        createdAt: base.addingTimeInterval(60), publicID: "opt_20260301_0000000000b2")
    }

    /// Twenty-two Seha events (every outcome, and one waiting), and three refused requests.
    @Sendable
    static func seedWebhookEvents(_ app: Application) async throws {
        let base = try #require(ISO8601DateFormatter().date(from: "2026-03-01T09:00:00Z"))
        let seha = try await WebhookEventFixtures.seedSeha(app, base: base)
        try await WebhookEventFixtures.rejected(app, integration: seha, count: 3, lastAt: base.addingTimeInterval(90))
    }

    /// Four replies with fixed public ids and times: a patient's thanks, a contact's STOP, an unknown START, no text.
    @Sendable
    static func seedInbound(_ app: Application) async throws {
        try await InboundFixtures.seed(app, base: try #require(ISO8601DateFormatter().date(from: "2026-03-01T09:00:00Z")))
    }

    /// The SMS integration's circuit breaker open after a credentials failure.
    @Sendable
    static func seedPausedSMS(_ app: Application) async throws {
        let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$integrationType == "sms").first())
        try await DeliveryPolicyStore(db: app.db).recordFailure(
            try row.requireID(), reason: "credentials: Authenticate, HTTP 401", opensAtOnce: true, threshold: 10,
            cooldown: .seconds(600), now: Date())
    }

    /// Three messages with fixed public ids and times: sent, failed (its error repeating the number), queued by e-mail.
    @Sendable
    static func seedMessages(_ app: Application) async throws {
        let base = try #require(ISO8601DateFormatter().date(from: "2026-03-01T09:00:00Z"))
        try await MessagesTabFixtures.insert(app, status: .sent, createdAt: base,
                                             publicID: "msg_20260301_00000000000000a1", attempts: 1)
        try await MessagesTabFixtures.insert(app, status: .failed, createdAt: base.addingTimeInterval(60),
                                             publicID: failedMessage, attempts: 1,
                                             lastError: AdminMessagesTabTests.twilioError)
        try await MessagesTabFixtures.insert(app, status: .queued, channel: .email, to: "parent@example.org",
                                             createdAt: base.addingTimeInterval(120),
                                             publicID: "msg_20260301_00000000000000c3")
    }
}
