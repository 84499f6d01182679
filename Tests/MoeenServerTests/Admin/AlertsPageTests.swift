import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// Alerts with fixed public ids and times, over the seeded default rules, for the Alerts tab's tests.
enum AlertFixtures {
    static let base = Date(timeIntervalSince1970: 1_772_355_600) // 2026-03-01T09:00:00Z

    static func defaultRule(_ app: Application, _ kind: AlertKind) async throws -> AlertRule {
        try #require(try await AlertRule.query(on: app.db).filter(\.$kind == kind.rawValue).filter(\.$isDefault == true).first())
    }

    @discardableResult
    static func insert(_ app: Application, rule: AlertRule, integrationType: String?, state: AlertState, publicID: String,
                       summary: String, value: Double?, firedAt: Date, acknowledgedBy: UUID? = nil) async throws -> Alert {
        var integration: IntegrationConfig?
        if let integrationType {
            integration = try await IntegrationConfig.query(on: app.db).filter(\.$integrationType == integrationType).first()
        }
        let alert = Alert()
        alert.id = UUID()
        alert.publicID = publicID
        alert.$rule.id = try rule.requireID()
        alert.integrationConfigID = integration?.id
        alert.subject = integration?.publicID ?? "outbox"
        alert.state = state.rawValue
        alert.summary = summary
        alert.value = value
        alert.firedAt = firedAt
        alert.lastNotifiedAt = nil
        alert.notificationsSent = 0
        alert.resolvedAt = state == .resolved ? firedAt.addingTimeInterval(600) : nil
        if let acknowledgedBy {
            alert.acknowledgedAt = firedAt.addingTimeInterval(120)
            alert.acknowledgedBy = acknowledgedBy
        }
        try await alert.create(on: app.db)
        return alert
    }

    /// One open alert, one open and acknowledged, one resolved.
    static func seed(_ app: Application, acknowledgedBy user: UUID) async throws {
        let failures = try await defaultRule(app, .consecutiveFailures)
        let queue = try await defaultRule(app, .queueAge)
        let health = try await defaultRule(app, .healthBelow)
        try await insert(app, rule: failures, integrationType: "whatsapp", state: .open, publicID: "alt_20260301_0000000000a1",
                         summary: "3 failed checks in a row", value: 3, firedAt: base)
        try await insert(app, rule: queue, integrationType: nil, state: .open, publicID: "alt_20260301_0000000000b2",
                         summary: "The oldest queued message has waited 15 minutes", value: 900, firedAt: base.addingTimeInterval(60),
                         acknowledgedBy: user)
        try await insert(app, rule: health, integrationType: "sms", state: .resolved, publicID: "alt_20260301_0000000000c3",
                         summary: "Health score 35 below 50 for 15 minutes", value: 35, firedAt: base.addingTimeInterval(-3600))
    }

    /// The page with the seeded rules' random public ids replaced (they differ from run to run), and integration
    /// ids inside input names (`channel_int_…`, which `HTMLSnapshot` does not see as words).
    static func normalised(_ html: String) -> String {
        html.replacingOccurrences(of: #"alr_\d{8}_[0-9a-f]+"#, with: "alr_<id>", options: .regularExpression)
            .replacingOccurrences(of: #"int_\d{8}_[0-9a-f]{8}"#, with: "int_<id>", options: .regularExpression)
    }
}

@Suite("Admin pages: the Alerts tab")
struct AlertsPageTests {
    @Test("empty: no open alert, no history, the default rules marked, and for an admin the rule form (Arabic snapshot)")
    func empty() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let admin = try await app.browserSession(role: .admin, email: "admin@example.org")
            let res = try await app.page("/settings/alerts", headers: admin.headers)
            #expect(res.status == .ok)
            #expect(res.html.contains("data-testid=\"open-alerts-empty\""))
            #expect(res.html.contains("data-testid=\"alert-history-empty\""))
            #expect(!res.html.contains("data-testid=\"alert-row\""))
            #expect(res.html.components(separatedBy: "data-testid=\"default-rule\"").count - 1 == CreateAlertTables.defaults.count)
            #expect(res.html.contains("data-testid=\"alert-rule-form\""))
            #expect(res.html.contains(Strings.text("open_alerts_empty", .ar)))
            HTMLSnapshot.assertMatches(AlertFixtures.normalised(res.html), named: "settings-alerts-empty.ar")
        }
    }

    @Test("with alerts: open (one acknowledged) and resolved rows with data-state; a viewer reads only (English snapshot)")
    func viewerReadsOnly() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let manager = try await app.browserSession(role: .manager, email: "manager@example.org")
            try await AlertFixtures.seed(app, acknowledgedBy: manager.userID)
            let viewer = try await app.browserSession(role: .viewer, email: "viewer@example.org")
            let res = try await app.page("/settings/alerts?lang=en", headers: viewer.headers)
            #expect(res.status == .ok)
            #expect(res.html.components(separatedBy: "data-testid=\"alert-row\" data-state=\"open\"").count - 1 == 2)
            #expect(res.html.components(separatedBy: "data-testid=\"alert-row\" data-state=\"resolved\"").count - 1 == 1)
            #expect(res.html.contains("data-acknowledged=\"true\""))
            #expect(res.html.contains("Acknowledged by <bdi>Test manager</bdi>"))
            #expect(!res.html.contains("data-testid=\"acknowledge-alert\""))
            #expect(!res.html.contains("data-testid=\"alert-rule-form\""))
            #expect(!res.html.contains("data-testid=\"edit-rule\""))
            #expect(!res.html.contains("data-testid=\"delete-rule\""))
            #expect(res.html.contains(Strings.text("read_only_note", .en)))
            HTMLSnapshot.assertMatches(AlertFixtures.normalised(res.html), named: "settings-alerts.en.viewer")

            let staff = try await app.browserSession(role: .staff)
            let staffPage = try await app.page("/settings/alerts", headers: staff.headers)
            #expect(staffPage.status == .ok)
            #expect(!staffPage.html.contains("data-testid=\"acknowledge-alert\""))
            #expect(!staffPage.html.contains("data-testid=\"alert-rule-form\""))
        }
    }

    @Test("a manager sees Acknowledge on the open, unacknowledged alert only, and no rule form (Arabic snapshot)")
    func managerAcknowledges() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let manager = try await app.browserSession(role: .manager, email: "manager@example.org")
            try await AlertFixtures.seed(app, acknowledgedBy: manager.userID)
            let res = try await app.page("/settings/alerts", headers: manager.headers)
            #expect(res.html.components(separatedBy: "data-testid=\"acknowledge-alert\"").count - 1 == 1)
            #expect(res.html.contains("action=\"/settings/alerts/alt_20260301_0000000000a1/acknowledge\""))
            #expect(!res.html.contains("data-testid=\"alert-rule-form\""))
            HTMLSnapshot.assertMatches(AlertFixtures.normalised(res.html), named: "settings-alerts.ar.manager")
        }
    }

    @Test("acknowledging needs a manager and the CSRF token; it records who and when, audited; a resolved alert is a notice; an unknown one 404")
    func acknowledge() async throws {
        try await withMoeenApp { app in
            let manager = try await app.browserSession(role: .manager)
            try await AlertFixtures.seed(app, acknowledgedBy: manager.userID)
            let path = "/settings/alerts/alt_20260301_0000000000a1/acknowledge"
            func stored() async throws -> Alert { try #require(try await Alert.find(idOrPublicID: "alt_20260301_0000000000a1", on: app.db)) }

            let viewer = try await app.browserSession(role: .viewer)
            let (viewerHeaders, viewerBody) = viewer.form([:])
            #expect(try await app.postForm(path, viewerBody, headers: viewerHeaders).status == .forbidden)
            let (headers, noToken) = manager.form([:], csrf: false)
            #expect(try await app.postForm(path, noToken, headers: headers).status == .forbidden)
            #expect(try await stored().acknowledgedAt == nil)

            let (_, body) = manager.form([:])
            let done = try await app.postForm(path, body, headers: headers)
            #expect(done.status == .seeOther)
            #expect(done.location == "/settings/alerts?notice=alert_acknowledged_notice")
            let alert = try await stored()
            #expect(alert.acknowledgedAt != nil)
            #expect(alert.acknowledgedBy == manager.userID)
            #expect(alert.state == "open")
            let audits = try await AuditLog.query(on: app.db).filter(\.$tableName == Alert.schema).count()
            #expect(audits == 1)

            let page = try await app.page("/settings/alerts?notice=alert_acknowledged_notice", headers: manager.headers)
            #expect(page.html.contains(Strings.text("alert_acknowledged_notice", .ar)))
            #expect(!page.html.contains("data-testid=\"acknowledge-alert\""))

            let resolved = try await app.postForm("/settings/alerts/alt_20260301_0000000000c3/acknowledge", body, headers: headers)
            #expect(resolved.location == "/settings/alerts?notice=alert_already_resolved")
            let unknown = try await app.postForm("/settings/alerts/alt_20260301_ffffffffffff/acknowledge", body, headers: headers)
            #expect(unknown.status == .notFound)
        }
    }

    @Test("the history pages through resolved alerts, newest first")
    func historyPages() async throws {
        try await withMoeenApp { app in
            let rule = try await AlertFixtures.defaultRule(app, .deadMessages)
            for index in 0..<3 {
                try await AlertFixtures.insert(app, rule: rule, integrationType: nil, state: .resolved,
                                               publicID: "alt_20260301_00000000000\(index)", summary: "Dead messages \(index)",
                                               value: Double(index), firedAt: AlertFixtures.base.addingTimeInterval(Double(index) * 60))
            }
            let viewer = try await app.browserSession(role: .viewer)
            let first = try await app.page("/settings/alerts?limit=2&lang=en", headers: viewer.headers)
            #expect(first.status == .ok)
            #expect(first.html.components(separatedBy: "data-state=\"resolved\"").count - 1 == 2)
            let next = try #require(first.html.range(of: ##"href="(/settings/alerts\?limit=2&amp;cursor=[^"#]+)"##, options: .regularExpression))
            let href = String(first.html[next]).dropFirst(6).replacingOccurrences(of: "&amp;", with: "&")
            let second = try await app.page(href + "&lang=en", headers: viewer.headers)
            #expect(second.status == .ok)
            #expect(second.html.components(separatedBy: "data-state=\"resolved\"").count - 1 == 1)
            #expect(second.html.contains("Dead messages 0"))
            #expect(second.html.contains("data-testid=\"first-page\""))
        }
    }
}
