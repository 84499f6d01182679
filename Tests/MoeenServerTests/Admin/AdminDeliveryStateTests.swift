import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("Admin pages: an integration's sending state and send limit")
struct AdminDeliveryStateTests {
    /// The seeded integration of `type`: its public id and row id.
    static func integration(_ app: Application, _ type: IntegrationType) async throws -> (publicID: String, id: UUID) {
        let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$integrationType == type.rawValue).first())
        return (row.publicID, try row.requireID())
    }

    /// The `data-state` of the page's sending-state badge, if it has one.
    static func state(_ html: String) -> String? {
        guard let range = html.range(of: "data-testid=\"delivery-state\" data-state=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    @Test("messaging integrations show their sending state as the API reports it — active, paused (why, until when), half-open — in both languages; other types show none")
    func states() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.browserSession(role: .viewer)
            let bearer = try await app.bearer(role: .viewer)
            let (sms, smsID) = try await Self.integration(app, .sms)
            let store = DeliveryPolicyStore(db: app.db)

            for type in [IntegrationType.whatsapp, .sms, .email, .slack] {
                let (publicID, _) = try await Self.integration(app, type)
                let html = try await app.page("/settings/integrations/\(publicID)", headers: viewer.headers).html
                #expect(Self.state(html) == "active", "\(type)")
                #expect(html.contains("<h2 id=\"delivery-heading\">\(Strings.text("delivery_heading", .ar))</h2>"), "\(type)")
                #expect(html.contains("\(Strings.text("delivery_state", .ar)): </span>\(Strings.text("delivery_state_active", .ar))</span>"), "\(type)")
                #expect(!html.contains("data-testid=\"delivery-state-until\""), "\(type)")
            }
            for type in [IntegrationType.googleCalendar, .seha, .tatman] {
                let (publicID, _) = try await Self.integration(app, type)
                let html = try await app.page("/settings/integrations/\(publicID)", headers: viewer.headers).html
                #expect(Self.state(html) == nil, "\(type)")
                #expect(!html.contains("id=\"delivery-section\""), "\(type)")
            }

            // The circuit breaker opens: paused, with the reason and the end of the pause.
            // Whole seconds, as the page shows them.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let reason = "credentials: Authenticate, HTTP 401"
            try await store.recordFailure(smsID, reason: reason, opensAtOnce: true, threshold: 10, cooldown: .seconds(600), now: now)
            let paused = try await app.page("/settings/integrations/\(sms)?lang=en", headers: viewer.headers).html
            #expect(Self.state(paused) == "paused")
            #expect(paused.contains("<span class=\"badge badge-paused\" data-testid=\"delivery-state\" data-state=\"paused\">"))
            #expect(paused.contains("<span class=\"visually-hidden\">Sending state: </span>Paused</span>"))
            #expect(paused.contains("Sending through this integration is paused"))
            #expect(paused.contains("data-testid=\"delivery-state-reason\">\(reason)</span>"))
            let until = TimeDisplay(now.addingTimeInterval(600), .en)
            #expect(paused.contains("data-testid=\"delivery-state-until\"><time datetime=\"\(until.iso)\">\(until.text)</time>"))
            let api = try await app.call(.GET, "api/integrations/\(sms)", auth: bearer)
            #expect(api.json["delivery_state"] as? String == "paused")
            #expect(api.json["delivery_state_reason"] as? String == reason)
            let arabic = try await app.page("/settings/integrations/\(sms)?lang=ar", headers: viewer.headers).html
            #expect(arabic.contains("\(Strings.text("delivery_state", .ar)): </span>\(Strings.text("delivery_state_paused", .ar))</span>"))
            #expect(arabic.contains("<dt>\(Strings.text("delivery_until", .ar))</dt>"))

            // The pause is over and a process holds the one trial: half-open, no "until".
            try await store.recordFailure(smsID, reason: reason, opensAtOnce: true, threshold: 10, cooldown: .seconds(60),
                                          now: now.addingTimeInterval(-3600))
            #expect(try await store.claimTrials(owner: "test", now: now, trialUntil: now.addingTimeInterval(60)) == [smsID])
            let halfOpen = try await app.page("/settings/integrations/\(sms)?lang=en", headers: viewer.headers).html
            #expect(Self.state(halfOpen) == "half_open")
            #expect(halfOpen.contains("</span>Half-open: one trial send</span>"))
            #expect(halfOpen.contains("one trial send goes out"))
            #expect(!halfOpen.contains("data-testid=\"delivery-state-until\""))
            #expect(try await app.call(.GET, "api/integrations/\(sms)", auth: bearer).json["delivery_state"] as? String == "half_open")

            // A 429's Retry-After pauses an integration whose breaker is closed.
            let (whatsapp, whatsappID) = try await Self.integration(app, .whatsapp)
            try await store.backOff(whatsappID, until: now.addingTimeInterval(120), reason: "the provider asked to wait (HTTP 429)", now: now)
            let backedOff = try await app.page("/settings/integrations/\(whatsapp)", headers: viewer.headers).html
            #expect(Self.state(backedOff) == "paused")
            #expect(backedOff.contains("the provider asked to wait (HTTP 429)"))
            #expect(backedOff.contains("data-testid=\"delivery-state-until\""))

            // A reset (a successful test, or new settings) makes it active again.
            try await store.reset(smsID, now: now)
            #expect(Self.state(try await app.page("/settings/integrations/\(sms)", headers: viewer.headers).html) == "active")
        }
    }

    @Test("the send-limit fields from the catalogue read in both languages: English words inside the Arabic labels marked as English, values left to right, defaults shown")
    func rateLimitLabels() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let (whatsapp, _) = try await Self.integration(app, .whatsapp)
            let arabic = try await app.page("/settings/integrations/\(whatsapp)", headers: admin.headers).html
            #expect(arabic.contains("<label for=\"field-rate_limit_per_second\">حد الإرسال (رسالة في الثانية، أو <span lang=\"en\" dir=\"ltr\">unlimited</span>)</label>"))
            #expect(arabic.contains("<label for=\"field-rate_limit_burst\">أقصى دفعة متتالية</label>"))
            #expect(arabic.contains("name=\"config.rate_limit_per_second\" type=\"text\" value=\"\" dir=\"ltr\""))
            #expect(arabic.contains("name=\"config.rate_limit_burst\" type=\"text\" value=\"\" dir=\"ltr\""))
            #expect(arabic.contains("id=\"field-rate_limit_per_second-hint\">\(Strings.text("default_value", .ar)): <bdi dir=\"ltr\">80</bdi>"))
            #expect(arabic.contains("id=\"field-rate_limit_burst-hint\">\(Strings.text("default_value", .ar)): <bdi dir=\"ltr\">20</bdi>"))
            let english = try await app.page("/settings/integrations/\(whatsapp)?lang=en", headers: admin.headers).html
            #expect(english.contains("<label for=\"field-rate_limit_per_second\">Send limit (messages per second, or unlimited)</label>"))
            #expect(english.contains("<label for=\"field-rate_limit_burst\">Burst (messages at once)</label>"))
            #expect(!english.contains("lang=\"en\" dir=\"ltr\">unlimited"))

            // An SMS page (defaults 10 and 5); a bad value is shown next to its field.
            let (sms, _) = try await Self.integration(app, .sms)
            let (headers, body) = admin.form(["name": "SMS", "config.rate_limit_per_second": "fast", "config.rate_limit_burst": "0"])
            let refused = try await app.postForm("/settings/integrations/\(sms)/save?lang=en", body, headers: headers)
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.html.contains("id=\"field-rate_limit_per_second-error\" data-field=\"config.rate_limit_per_second\""))
            #expect(refused.html.contains("id=\"field-rate_limit_burst-error\" data-field=\"config.rate_limit_burst\""))
            #expect(refused.html.contains("value=\"fast\""))
            #expect(refused.html.contains("<bdi dir=\"ltr\">10</bdi>") && refused.html.contains("<bdi dir=\"ltr\">5</bdi>"))
            // Other types have no send limit.
            let (calendar, _) = try await Self.integration(app, .googleCalendar)
            #expect(!(try await app.page("/settings/integrations/\(calendar)", headers: admin.headers).html.contains("rate_limit")))
        }
    }

    @Test("Latin words inside Arabic text are split out to be marked as English; English text is one run")
    func textParts() {
        #expect(TextPart.split("حد الإرسال (رسالة في الثانية، أو unlimited)", .ar) == [
            TextPart(text: "حد الإرسال (رسالة في الثانية، أو ", foreign: false),
            TextPart(text: "unlimited", foreign: true),
            TextPart(text: ")", foreign: false),
        ])
        #expect(TextPart.split("معرّف الحساب (SID)", .ar).filter(\.foreign).map(\.text) == ["SID"])
        #expect(TextPart.split("رمز OAuth2 للوصول", .ar).filter(\.foreign).map(\.text) == ["OAuth2"])
        #expect(TextPart.split("عنوان 1", .ar) == [TextPart(text: "عنوان 1", foreign: false)])
        #expect(TextPart.split("Send limit (messages per second, or unlimited)", .en).count == 1)
        for type in IntegrationType.allCases {
            for spec in IntegrationCatalog.fields(for: type) {
                #expect(TextPart.split(spec.labelAR, .ar).map(\.text).joined() == spec.labelAR, "\(spec.name)")
                #expect(!spec.labelEN.isEmpty && !spec.labelAR.isEmpty, "\(spec.name)")
            }
        }
        for state in ["active", "paused", "half_open"] {
            #expect(Strings.table["delivery_state_\(state)"] != nil, "\(state)")
            #expect(Strings.table["delivery_\(state)_body"] != nil, "\(state)")
            #expect(DeliveryStateView(DeliveryPolicyStore.Snapshot(state: state, reason: nil, until: nil), .en).badge.label != state)
        }
        #expect(DeliveryStateView(nil, .ar).state == "active")
    }
}
