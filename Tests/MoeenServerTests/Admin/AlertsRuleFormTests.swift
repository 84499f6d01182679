import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// The Alerts tab's rule form (admins): add, edit and delete with the API's checks and audit rows; refused forms
/// with errors next to each field and in a summary, in Arabic and English; roles and CSRF.
@Suite("Admin pages: alert rules form")
struct AlertsRuleFormTests {
    /// A valid rule: two failures in a row on the seeded WhatsApp integration, to the seeded Slack integration.
    static func validForm(_ app: Application, name: String = "WhatsApp failing") async throws -> [String: String] {
        let whatsapp = try await app.integrationID("whatsapp")
        let slack = try await app.integrationID("slack")
        return ["name": name, "kind": "consecutive_failures", "scope": "integration:\(whatsapp)", "threshold": "2",
                "window": "", "cooldown": "30m", "channel_\(slack)": "on", "is_enabled": "true"]
    }

    @Test("an admin adds a rule from the form: stored as the API would store it, audited, listed, and the tab says so")
    func create() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let (headers, body) = admin.form(try await Self.validForm(app))
            let res = try await app.postForm("/settings/alerts/rules", body, headers: headers)
            #expect(res.status == .seeOther, "\(res.html)")
            #expect(res.location == "/settings/alerts?notice=rule_created")
            let rule = try #require(try await AlertRule.query(on: app.db).filter(\.$name == "WhatsApp failing").first())
            #expect(rule.kind == "consecutive_failures")
            #expect(rule.threshold == 2)
            #expect(rule.cooldownSeconds == 1800)
            #expect(rule.windowSeconds == nil)
            #expect(rule.isDefault == false)
            #expect(rule.isEnabled)
            #expect(rule.createdBy == admin.userID)
            #expect(rule.channelList == [AlertChannel(integrationID: try await app.integrationID("slack"))])
            let whatsapp = try await IntegrationConfig.find(idOrPublicID: try await app.integrationID("whatsapp"), on: app.db)
            #expect(rule.integrationConfigID == whatsapp.id)
            let audit = try await AuditLog.query(on: app.db).filter(\.$tableName == AlertRule.schema).filter(\.$action == "INSERT").count()
            #expect(audit == 1)

            let page = try await app.page("/settings/alerts?notice=rule_created&lang=en", headers: admin.headers)
            #expect(page.html.contains(Strings.text("rule_created", .en)))
            #expect(page.html.contains("data-public-id=\"\(rule.publicID)\""))

            // The API shows the same rule.
            let token = try await app.bearer(role: .admin)
            let api = try await app.call(.GET, "api/alert-rules/\(rule.publicID)", auth: token)
            #expect(api.json["cooldown"] as? String == "30m")
            #expect(api.json["integration_id"] as? String == whatsapp.publicID)
        }
    }

    @Test("a refused form keeps what was typed and names each problem next to its field and in the summary (English snapshot, then Arabic)")
    func formErrors() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let admin = try await app.browserSession(role: .admin, email: "admin@example.org")
            let email = try await app.integrationID("email")
            var fields = try await Self.validForm(app)
            fields["name"] = ""
            fields["threshold"] = "lots"
            fields["cooldown"] = "forever"
            fields["channel_\(email)"] = "on"
            fields["recipients_\(email)"] = "not-an-address"
            let (headers, body) = admin.form(fields)
            let res = try await app.postForm("/settings/alerts/rules?lang=en", body, headers: headers)
            #expect(res.status == .unprocessableEntity)
            for field in ["name", "threshold", "cooldown", "channels"] {
                #expect(res.html.contains("data-field=\"\(field)\""), "\(field)")
            }
            #expect(res.html.contains("data-testid=\"form-errors\""))
            #expect(res.html.contains("href=\"#rule-threshold\""))
            #expect(res.html.contains("href=\"#rule-recipients-\(email)\""))
            #expect(res.html.contains("value=\"lots\""))
            #expect(res.html.contains("value=\"not-an-address\""))
            #expect(try await AlertRule.query(on: app.db).filter(\.$isDefault == false).count() == 0)
            HTMLSnapshot.assertMatches(AlertFixtures.normalised(res.html), named: "settings-alerts-form-errors.en")

            let arabic = try await app.postForm("/settings/alerts/rules?lang=ar", body, headers: headers)
            #expect(arabic.status == .unprocessableEntity)
            for key in ["error_rule_name", "error_rule_threshold", "error_rule_cooldown", "error_rule_recipients"] {
                #expect(arabic.html.contains(Strings.text(key, .ar)), "\(key)")
            }
            // Kinds that need a window say so.
            var windowless = try await Self.validForm(app)
            windowless["kind"] = "dead_messages"
            windowless["scope"] = "all"
            windowless["threshold"] = "1"
            let (_, windowBody) = admin.form(windowless)
            let noWindow = try await app.postForm("/settings/alerts/rules?lang=en", windowBody, headers: headers)
            #expect(noWindow.status == .unprocessableEntity)
            #expect(noWindow.html.contains("id=\"rule-window-error\""))
        }
    }

    @Test("a name another rule has is 409 with the form again; editing keeps its own name; delete removes it; both audited")
    func editAndDelete() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let (headers, body) = admin.form(try await Self.validForm(app))
            _ = try await app.postForm("/settings/alerts/rules", body, headers: headers)
            let rule = try #require(try await AlertRule.query(on: app.db).filter(\.$name == "WhatsApp failing").first())

            let (_, again) = admin.form(try await Self.validForm(app))
            let taken = try await app.postForm("/settings/alerts/rules?lang=en", again, headers: headers)
            #expect(taken.status == .conflict)
            #expect(taken.html.contains(Strings.text("error_rule_name_taken", .en)))

            let editPage = try await app.page("/settings/alerts?edit=\(rule.publicID)&lang=en", headers: admin.headers)
            #expect(editPage.html.contains("action=\"/settings/alerts/rules/\(rule.publicID)\""))
            #expect(editPage.html.contains("value=\"WhatsApp failing\""))
            #expect(editPage.html.contains(Strings.text("edit_rule_heading", .en)))

            var changed = try await Self.validForm(app)
            changed["threshold"] = "5"
            changed["is_enabled"] = nil
            let (_, changedBody) = admin.form(changed)
            let saved = try await app.postForm("/settings/alerts/rules/\(rule.publicID)", changedBody, headers: headers)
            #expect(saved.status == .seeOther)
            #expect(saved.location == "/settings/alerts?notice=rule_updated")
            let stored = try #require(try await AlertRule.find(idOrPublicID: rule.publicID, on: app.db))
            #expect(stored.threshold == 5)
            #expect(stored.isEnabled == false)

            let deleted = try await app.postForm("/settings/alerts/rules/\(rule.publicID)/delete", changedBody, headers: headers)
            #expect(deleted.location == "/settings/alerts?notice=rule_deleted")
            #expect(try await AlertRule.find(idOrPublicID: rule.publicID, on: app.db) == nil)
            let actions = try await AuditLog.query(on: app.db).filter(\.$tableName == AlertRule.schema).all().map(\.action).sorted()
            #expect(actions == ["DELETE", "INSERT", "UPDATE"])
            let missing = try await app.postForm("/settings/alerts/rules/\(rule.publicID)/delete", changedBody, headers: headers)
            #expect(missing.status == .notFound)
        }
    }

    @Test("rules are written by admins only, with the CSRF token; others get the 403 page and nothing changes")
    func adminsOnly() async throws {
        try await withMoeenApp { app in
            let rule = try await AlertFixtures.defaultRule(app, .deadMessages)
            for role in [UserRole.viewer, .staff, .manager] {
                let browser = try await app.browserSession(role: role)
                let (headers, body) = browser.form(try await Self.validForm(app))
                #expect(try await app.postForm("/settings/alerts/rules", body, headers: headers).status == .forbidden, "\(role)")
                #expect(try await app.postForm("/settings/alerts/rules/\(rule.publicID)", body, headers: headers).status == .forbidden)
                #expect(try await app.postForm("/settings/alerts/rules/\(rule.publicID)/delete", body, headers: headers).status == .forbidden)
                let page = try await app.page("/settings/alerts?edit=\(rule.publicID)", headers: browser.headers)
                #expect(!page.html.contains("data-testid=\"alert-rule-form\""))
            }
            let admin = try await app.browserSession(role: .admin)
            let (headers, noToken) = admin.form(try await Self.validForm(app), csrf: false)
            #expect(try await app.postForm("/settings/alerts/rules", noToken, headers: headers).status == .forbidden)
            #expect(try await app.postForm("/settings/alerts/rules/\(rule.publicID)/delete", noToken, headers: headers).status == .forbidden)
            #expect(try await AlertRule.query(on: app.db).filter(\.$isDefault == false).count() == 0)
            #expect(try await AlertRule.find(idOrPublicID: rule.publicID, on: app.db) != nil)
        }
    }

    @Test("every string the tab and credential expiry use exists in both languages")
    func strings() {
        for kind in AlertKind.allCases { #expect(Strings.table["alert_kind_\(kind.rawValue)"] != nil, "\(kind)") }
        for key in AlertsPageController.notices.keys { #expect(Strings.table[key] != nil, "\(key)") }
        for (key, value) in Strings.alertsTable {
            #expect(!value.ar.isEmpty && !value.en.isEmpty, "\(key)")
        }
    }
}
