import Fluent
import FluentSQL
import Foundation
import MoeenCore
@testable import MoeenServer
import SQLKit
import Testing
import Vapor
import VaporTesting

/// Webhook events and refused requests for the pages' tests: events stored with the columns intake fills, then
/// given the outcome and time the test wants; refused requests counted as `WebhookController.reject` counts them.
enum WebhookEventFixtures {
    /// Every outcome processing records, and `nil` for an event not processed yet.
    static let outcomes: [String?] = ["applied", "unchanged", "unknown_message", "inbound", "opt_out", "opt_in", "recorded", "failed", nil]

    @discardableResult
    static func insert(
        _ app: Application, integration: UUID, provider: WebhookProvider, eventID: String, eventType: String,
        outcome: String?, receivedAt: Date, payload: JSONValue = [:], publicID: String? = nil
    ) async throws -> WebhookEvent {
        let row = WebhookEvent()
        row.publicID = publicID ?? PublicID.make(.webhookEvent, at: receivedAt, randomHexDigits: 16)
        row.provider = provider.rawValue
        row.integrationID = integration
        row.eventID = eventID
        row.eventType = eventType
        row.payload = payload
        row.receivedAt = receivedAt
        row.processAfter = receivedAt
        row.processedAt = outcome == nil ? nil : receivedAt
        row.outcome = outcome
        try await row.create(on: app.db)
        // As intake stores it: created when received (the list's order).
        row.createdAt = receivedAt
        try await row.save(on: app.db)
        return row
    }

    /// `count` refused requests, the last at `lastAt`.
    static func rejected(_ app: Application, integration: UUID, count: Int64, lastAt: Date) async throws {
        let sql = try #require(app.db as? any SQLDatabase)
        try await sql.insert(into: "webhook_rejections")
            .columns("integration_config_id", "count", "last_reason", "last_at")
            .values(SQLBind(integration), SQLBind(count), SQLBind("signature mismatch"), SQLBind(lastAt))
            .run()
    }

    /// The seeded integration of `type`: its public id and row id.
    static func integration(_ app: Application, _ type: IntegrationType) async throws -> (publicID: String, id: UUID) {
        try await AdminDeliveryStateTests.integration(app, type)
    }

    /// The listed events' `data-outcome`, in order.
    static func outcomes(_ html: String) -> [String] {
        html.components(separatedBy: "data-testid=\"webhook-event-row\" data-outcome=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    /// The listed events' provider ids, in order.
    static func eventIDs(_ html: String) -> [String] {
        html.components(separatedBy: "data-testid=\"webhook-event-id\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    /// The refused-request count the page states (`data-count`).
    static func rejectedCount(_ html: String) -> String? {
        guard let range = html.range(of: "data-testid=\"webhook-rejections\" data-count=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Twenty-two Seha events a second apart, every outcome in turn (the first two beyond the page's twenty),
    /// each payload carrying a phone number and a text the page must not show.
    static func seedSeha(_ app: Application, base: Date) async throws -> UUID {
        let (_, seha) = try await integration(app, .seha)
        for index in 0..<22 {
            try await insert(app, integration: seha, provider: .seha, eventID: "evt_\(index)", eventType: "claim.updated",
                             outcome: outcomes[index % outcomes.count], receivedAt: base.addingTimeInterval(Double(index)),
                             payload: ["id": .string("evt_\(index)"), "phone": "+966551234567", "note": .string("private note \(index)")],
                             publicID: String(format: "whe_20260301_%016x", index))
        }
        return seha
    }
}

@Suite("Admin pages: webhook events on the integration page")
struct AdminWebhookEventsTests {
    typealias Fixtures = WebhookEventFixtures

    @Test("every integration type's page has a Webhook events section after the webhook URL, for every role: with nothing received, the empty state and no refused request, in Arabic and English")
    func everyTypeEmpty() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.browserSession(role: .viewer)
            for type in IntegrationType.allCases {
                let (publicID, _) = try await Fixtures.integration(app, type)
                let res = try await app.page("/settings/integrations/\(publicID)", headers: viewer.headers)
                #expect(res.status == .ok, "\(type)")
                let html = res.html
                let url = try #require(html.range(of: "data-testid=\"webhook-url\""), "\(type)")
                let section = try #require(html.range(of: "<section class=\"card\" aria-labelledby=\"webhook-events-heading\" id=\"webhook-events\" data-testid=\"webhook-events\">"), "\(type)")
                #expect(url.upperBound < section.lowerBound, "\(type): the events follow the URL")
                #expect(html.contains("<p><a href=\"#webhook-events\" data-testid=\"webhook-events-link\">\(Strings.text("webhook_events_link", .ar))</a></p>"), "\(type)")
                #expect(html.contains("<h2 id=\"webhook-events-heading\">\(Strings.text("webhook_events_heading", .ar))</h2>"), "\(type)")
                #expect(html.contains("data-testid=\"webhook-events-empty\">\(Strings.text("webhook_events_empty", .ar))</p>"), "\(type)")
                #expect(Fixtures.rejectedCount(html) == "0", "\(type)")
                #expect(!html.contains("data-testid=\"webhook-event-row\""), "\(type)")
                #expect(!html.contains("data-testid=\"webhook-events-table\""), "\(type)")

                let english = try await app.page("/settings/integrations/\(publicID)?lang=en", headers: viewer.headers).html
                #expect(english.contains("<h2 id=\"webhook-events-heading\">Webhook events</h2>"), "\(type)")
                #expect(english.contains("No events yet. They appear here once the provider sends them to the address."), "\(type)")
                #expect(english.contains("data-count=\"0\">Requests refused for their signature: <strong>0</strong></p>"), "\(type)")
            }
            let (whatsapp, _) = try await Fixtures.integration(app, .whatsapp)
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let res = try await app.page("/settings/integrations/\(whatsapp)", headers: browser.headers)
                #expect(res.status == .ok, "\(role)")
                #expect(res.html.contains("data-testid=\"webhook-events\""), "\(role)")
            }
        }
    }

    @Test("the last 20 events newest first, as the API lists them: received time, event type, the outcome in words (waiting before processing) and the provider's event id; no payload; another integration's events not shown")
    func lastTwenty() async throws {
        try await withMoeenApp { app in
            let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded(.down))
            _ = try await Fixtures.seedSeha(app, base: base)
            let (seha, _) = try await Fixtures.integration(app, .seha)
            let (_, tatman) = try await Fixtures.integration(app, .tatman)
            try await Fixtures.insert(app, integration: tatman, provider: .tatman, eventID: "evt_tatman", eventType: "report.ready",
                                      outcome: "recorded", receivedAt: base.addingTimeInterval(100))

            let viewer = try await app.browserSession(role: .viewer)
            let html = try await app.page("/settings/integrations/\(seha)", headers: viewer.headers).html
            let expectedIDs = (2..<22).reversed().map { "evt_\($0)" }
            #expect(Fixtures.eventIDs(html) == expectedIDs)
            #expect(Fixtures.outcomes(html) == (2..<22).reversed().map { Fixtures.outcomes[$0 % Fixtures.outcomes.count] ?? "waiting" })
            #expect(!html.contains("evt_tatman"))
            #expect(!html.contains("data-testid=\"webhook-events-empty\""))
            #expect(html.contains("<tr data-testid=\"webhook-event-row\" data-outcome=\"waiting\" data-event-type=\"claim.updated\" data-public-id=\"whe_20260301_0000000000000011\">"))
            let newest = TimeDisplay(base.addingTimeInterval(21), .ar)
            #expect(html.contains("<td><time datetime=\"\(newest.iso)\">\(newest.text)</time></td>"))
            #expect(html.contains("<td><code dir=\"ltr\">claim.updated</code></td>"))
            // Payloads are not shown (nor their numbers and texts).
            #expect(!html.contains("966551234567") && !html.contains("private note"))

            // The same events, in the same order, as the API's first page of 20.
            let api = try await app.call(.GET, "api/integrations/\(seha)/webhook-events?limit=20", auth: try await app.bearer(role: .viewer))
            let listed = (api.json["data"] as? [[String: Any]] ?? []).compactMap { $0["event_id"] as? String }
            #expect(listed == expectedIDs)

            // Every outcome as words and an icon, in both languages.
            let english = try await app.page("/settings/integrations/\(seha)?lang=en", headers: viewer.headers).html
            let words = ["applied": "Applied", "unchanged": "Unchanged", "unknown_message": "Unknown message", "inbound": "Inbound reply",
                         "opt_out": "Opt-out", "opt_in": "Opt-in", "recorded": "Recorded", "failed": "Failed", "waiting": "Waiting"]
            for (outcome, word) in words {
                let badge = StatusBadge.webhookOutcome(outcome == "waiting" ? nil : outcome, .en)
                #expect(badge.label == word, "\(outcome)")
                #expect(english.contains("<span class=\"badge badge-\(outcome)\" data-testid=\"webhook-event-outcome\"><span aria-hidden=\"true\">\(badge.icon)</span> \(word)</span>"), "\(outcome)")
                let arabic = StatusBadge.webhookOutcome(outcome == "waiting" ? nil : outcome, .ar)
                #expect(html.contains("<span class=\"badge badge-\(outcome)\" data-testid=\"webhook-event-outcome\"><span aria-hidden=\"true\">\(arabic.icon)</span> \(arabic.label)</span>"), "\(outcome)")
                #expect(arabic.label != word, "\(outcome) has its Arabic word")
            }
            #expect(english.contains("The last 20 events the provider sent to the address, newest first"))
        }
    }

    @Test("requests refused for their signature: how many and when the last was, per integration, in both languages")
    func rejections() async throws {
        try await withMoeenApp { app in
            let (google, googleID) = try await Fixtures.integration(app, .googleCalendar)
            let (seha, _) = try await Fixtures.integration(app, .seha)
            let last = try #require(ISO8601DateFormatter().date(from: "2026-03-01T09:30:00Z"))
            try await Fixtures.rejected(app, integration: googleID, count: 1234, lastAt: last)
            let viewer = try await app.browserSession(role: .viewer)
            let english = try await app.page("/settings/integrations/\(google)?lang=en", headers: viewer.headers).html
            #expect(Fixtures.rejectedCount(english) == "1234")
            let time = TimeDisplay(last, .en)
            #expect(english.contains("Requests refused for their signature: <strong>1,234</strong> · last: <time datetime=\"\(time.iso)\">\(time.text)</time></p>"))
            #expect(english.contains("nothing of them is kept but this count"))
            let arabic = try await app.page("/settings/integrations/\(google)", headers: viewer.headers).html
            let arabicTime = TimeDisplay(last, .ar)
            #expect(arabic.contains("\(Strings.text("webhook_rejections_label", .ar)): <strong>1,234</strong> · \(Strings.text("webhook_rejections_last", .ar)): <time datetime=\"\(arabicTime.iso)\">\(arabicTime.text)</time>"))
            // Counted per integration; the API says the same.
            #expect(Fixtures.rejectedCount(try await app.page("/settings/integrations/\(seha)", headers: viewer.headers).html) == "0")
            let api = try await app.call(.GET, "api/integrations/\(google)/webhook-events", auth: try await app.bearer(role: .viewer))
            #expect(api.json["rejected_signatures"] as? Int == 1234)
        }
    }

    @Test("a signed WhatsApp status and a forged one, posted to the webhook: the page shows the event waiting, then applied, and one refused request; a STOP reply from a patient shows as an opt-out here and on the inbound replies page")
    func throughIntake() async throws {
        try await WebhookIntakeTests.withWhatsApp { app, _, integration, messageID, wamid in
            let patient = Patient()
            patient.publicID = PublicID.make(.patient)
            patient.fullName = "سارة العتيبي"
            patient.phone = "055 123 4567"
            try await patient.create(on: app.db)

            let path = "webhooks/whatsapp/\(integration)"
            let delivered = WebhookTestData.whatsAppStatus(id: wamid, status: "delivered", timestamp: "1767225601")
            #expect(try await app.postWebhook(path, body: delivered, headers: WebhookIntakeTests.signed(delivered)).status == .ok)
            let forged = [("Content-Type", "application/json"),
                          ("X-Hub-Signature-256", WebhookSignatures.signWhatsApp(body: delivered, appSecret: "not-the-secret"))]
            #expect(try await app.postWebhook(path, body: delivered, headers: forged).status == .unauthorized)
            let stop = WebhookTestData.whatsAppInbound(id: "wamid.STOP1", from: "966551234567", text: "STOP")
            #expect(try await app.postWebhook(path, body: stop, headers: WebhookIntakeTests.signed(stop)).status == .ok)

            let manager = try await app.browserSession(role: .manager)
            let waiting = try await app.page("/settings/integrations/\(integration)?lang=en", headers: manager.headers).html
            #expect(Fixtures.outcomes(waiting) == ["waiting", "waiting"])
            #expect(Fixtures.eventIDs(waiting) == ["message:wamid.STOP1", "status:\(wamid):delivered:1767225601"])
            #expect(Fixtures.rejectedCount(waiting) == "1")
            #expect(waiting.contains("Requests refused for their signature: <strong>1</strong> · last: <time datetime=\""))

            try await app.processWebhooks()
            #expect(try await app.message(messageID).status == "delivered")
            let processed = try await app.page("/settings/integrations/\(integration)?lang=en", headers: manager.headers).html
            #expect(Fixtures.outcomes(processed) == ["opt_out", "applied"])
            #expect(processed.contains("data-outcome=\"applied\" data-event-type=\"status.delivered\""))
            #expect(!processed.contains("966551234567"))

            let inbound = try await app.page("/settings/messages/inbound?lang=en", headers: manager.headers).html
            #expect(InboundFixtures.senders(inbound) == ["+966551234567"])
            #expect(inbound.contains("data-testid=\"inbound-row\" data-channel=\"whatsapp\" data-matched=\"patient\" data-opt-out-action=\"opt_out\""))
            #expect(inbound.contains("<bdi data-testid=\"inbound-patient\">سارة العتيبي</bdi>"))
            #expect(inbound.contains("data-testid=\"inbound-text\">STOP</span>"))
            #expect(inbound.contains("<span aria-hidden=\"true\">⊘</span> Opted out</span>"))
            let viewer = try await app.browserSession(role: .viewer)
            let masked = try await app.page("/settings/messages/inbound", headers: viewer.headers).html
            #expect(InboundFixtures.senders(masked) == [PhoneNumber.masked("+966551234567")])
            #expect(!masked.contains("966551234567"))
        }
    }

    @Test("every outcome has its words in both languages, and the section's limit is the one its text states")
    func strings() {
        for outcome in WebhookEventFixtures.outcomes {
            let key = "webhook_outcome_\(outcome ?? "waiting")"
            #expect(Strings.table[key] != nil, "\(key)")
        }
        for key in ["webhook_events_heading", "webhook_events_link", "webhook_events_intro", "webhook_events_empty", "webhook_rejections_label",
                    "webhook_rejections_last", "webhook_rejections_hint", "col_received", "col_event_type", "col_outcome", "col_event_id"] {
            #expect(Strings.table[key] != nil, "\(key)")
        }
        let limit = String(IntegrationPageController.webhookEventLimit)
        #expect(Strings.text("webhook_events_intro", .ar).contains(limit) && Strings.text("webhook_events_intro", .en).contains(limit))
        #expect(StatusBadge.webhookOutcome("something_new", .en).label == "something_new")
    }
}
