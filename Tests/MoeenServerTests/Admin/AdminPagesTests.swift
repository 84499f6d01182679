import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("Admin pages: settings tabs, integration form, users")
struct AdminPagesTests {
    @Test("the Integrations tab lists one row per integration with type, health and last test")
    func integrationsTab() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let res = try await app.page("/settings/integrations", headers: admin.headers)
            #expect(res.status == .ok)
            #expect(res.html.components(separatedBy: "data-testid=\"integration-row\"").count - 1 == 7)
            for type in IntegrationType.allCases {
                #expect(res.html.contains("data-type=\"\(type.rawValue)\""))
                #expect(res.html.contains(type.labelAR))
            }
            #expect(res.html.components(separatedBy: "data-testid=\"health-score\"").count - 1 == 7)
            #expect(res.headers.first(name: "Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(res.headers.first(name: .cacheControl) == "no-store")
        }
    }

    @Test("the integration form is built from the catalogue: labels, required marks, secret state, webhook URL")
    func integrationForm() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("whatsapp")
            let res = try await app.page("/settings/integrations/\(id)?lang=en", headers: admin.headers)
            #expect(res.status == .ok)
            let html = res.html
            #expect(html.contains("data-testid=\"integration-form\""))
            #expect(html.contains("data-testid=\"save-integration\""))
            #expect(html.contains("data-testid=\"test-connection\""))
            for field in IntegrationCatalog.fields(for: .whatsapp) {
                #expect(html.contains("name=\"config.\(field.name)\""))
                #expect(html.contains("<label for=\"field-\(field.name)\">\(field.labelEN)"))
            }
            #expect(html.contains("id=\"field-access_token\" name=\"config.access_token\" type=\"password\""))
            #expect(html.contains("https://hub.example.org/webhooks/whatsapp/\(id)"))
            #expect(html.contains("data-testid=\"health-chart\""))
            #expect(html.contains("No test has run yet."))
        }
    }

    @Test("saving plain settings redirects back (PRG) and keeps them; a bad value is shown next to its field")
    func savePlainSettings() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("email")
            let (headers, body) = admin.form([
                "name": "SendGrid Email Service", "description": "Reports",
                "config.from_email": "clinic@example.org", "config.from_name": "مركز الهمم",
                "config.api_key": "",
            ])
            let res = try await app.postForm("/settings/integrations/\(id)/save", body, headers: headers)
            #expect(res.status == .seeOther)
            #expect(res.location == "/settings/integrations/\(id)?notice=saved")
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
            #expect(row.config["from_email"]?.stringValue == "clinic@example.org")
            #expect(row.$description.value == "Reports")
            let page = try await app.page("/settings/integrations/\(id)?notice=saved", headers: admin.headers)
            #expect(page.html.contains("value=\"clinic@example.org\""))
            #expect(page.html.contains(Strings.text("saved", .ar)))
        }
    }

    @Test("enable and disable post and redirect back")
    func enableDisable() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("seha")
            let (headers, body) = admin.form(["enabled": "true"])
            let incomplete = try await app.postForm("/settings/integrations/\(id)/enable", body, headers: headers)
            #expect(incomplete.status == .unprocessableEntity)
            #expect(incomplete.html.contains("id=\"field-api_key-error\""))
            let (_, settings) = admin.form(["config.api_key": "seha-test-key", "config.facility_id": "F-1", "config.api_url": "https://api.seha.sa"])
            #expect(try await app.postForm("/settings/integrations/\(id)/save", settings, headers: headers).status == .seeOther)
            let res = try await app.postForm("/settings/integrations/\(id)/enable", body, headers: headers)
            #expect(res.location == "/settings/integrations/\(id)?notice=now_enabled")
            #expect(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first()?.isEnabled == true)
        }
    }

    @Test("the test log lists runs newest first, with result, message and duration; the chart has a point per run")
    func testLogAndChart() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("whatsapp")
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
            let base = Date().addingTimeInterval(-600)
            for (offset, status, message) in [(0.0, "success", nil), (60.0, "failed", "Invalid OAuth access token - Cannot parse access token")] {
                let log = IntegrationTestLog()
                log.publicID = PublicID.make(.integrationTestLog)
                log.$integration.id = try row.requireID()
                log.integrationType = "whatsapp"
                log.testType = "connection"
                log.status = status
                log.errorMessage = message
                log.durationMs = 140
                try await log.create(on: app.db)
                log.createdAt = base.addingTimeInterval(offset)
                try await log.save(on: app.db)
            }
            let html = try await app.page("/settings/integrations/\(id)", headers: admin.headers).html
            #expect(html.components(separatedBy: "data-testid=\"test-log-row\"").count - 1 == 2)
            let failed = try #require(html.range(of: "data-testid=\"test-log-row\" data-status=\"failed\""))
            let succeeded = try #require(html.range(of: "data-testid=\"test-log-row\" data-status=\"success\""))
            #expect(failed.lowerBound < succeeded.lowerBound)
            #expect(html.contains("data-testid=\"test-result\" data-status=\"failed\""))
            #expect(html.contains("Invalid OAuth access token"))
            #expect(html.contains("<polyline class=\"line\""))
            #expect(html.components(separatedBy: "<circle class=\"dot\"").count - 1 == 2)
        }
    }

    @Test("the health chart scales scores into the plot and has a text alternative")
    func chartGeometry() {
        let now = Date()
        let chart = HealthChart([(now, 100), (now.addingTimeInterval(60), 0)], language: .en)
        #expect(chart.points.map(\.x) == [30, 570])
        #expect(chart.points.map(\.y) == [30, 170])
        #expect(chart.polyline == "30,30 570,170")
        #expect(chart.summary.contains("100 → 0"))
        #expect(HealthChart([], language: .ar).isEmpty)
    }

    @Test("a secret stored through IntegrationWriter never reaches any page: neither its value nor its sealed text, only …hint")
    func secretsNeverInHTML() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let user = AuthenticatedUser(id: admin.userID, email: admin.email, name: "Admin", role: .admin)
            let sentinel = "SENTINEL-secret-value-7c1d9f2c"
            var sealedTexts: [String] = []
            for row in try await IntegrationConfig.query(on: app.db).all() {
                guard let type = IntegrationType(rawValue: row.integrationType) else { continue }
                var config: [String: JSONValue] = [:]
                for name in IntegrationCatalog.secretFieldNames(for: type) {
                    config[name] = .string(name == "webhook_url" ? "https://hooks.example.org/services/\(sentinel)" : sentinel)
                }
                let request = Request(application: app, on: app.eventLoopGroup.next())
                let saved = try await IntegrationWriter(req: request).update(row, IntegrationPatch(config: config), by: user)
                for value in StoredConfig(saved.config).values.values {
                    if let sealed = value["sealed"]?.stringValue { sealedTexts.append(sealed) }
                }
            }
            #expect(sealedTexts.count >= 7)
            #expect(!sealedTexts.contains { $0.contains(sentinel) })
            var pages = ["/settings", "/settings/integrations", "/settings/users", "/settings/alerts", "/settings/security", "/api/integrations"]
            for row in try await IntegrationConfig.query(on: app.db).all() {
                pages.append("/settings/integrations/\(row.publicID)")
                pages.append("/settings/integrations/\(row.publicID)?lang=en")
            }
            for path in pages {
                let res = try await app.page(path, headers: admin.headers)
                #expect(res.status == .ok, "\(path)")
                #expect(!res.html.contains(sentinel), "\(path)")
                for sealed in sealedTexts { #expect(!res.html.contains(sealed), "\(path)") }
                #expect(!res.html.contains("\"sealed\""), "\(path)")
            }
            let whatsapp = try await app.page("/settings/integrations/\(try await app.integrationID("whatsapp"))?lang=en", headers: admin.headers)
            #expect(whatsapp.html.contains("set, ending <bdi dir=\"ltr\">…9f2c</bdi>"))
            let security = try await app.page("/settings/security?lang=en", headers: admin.headers)
            #expect(security.html.contains("data-testid=\"key-versions\""))
        }
    }

    @Test("test connection from the page: the script's JSON call, and the plain form post that redirects back to the result")
    func testConnectionFromPage() async throws {
        try await withStandIn(.whatsapp) { _, settings in
            try await withMoeenApp { app in
                let admin = try await app.browserSession(role: .admin)
                let id = try await app.integrationID("whatsapp")
                var fields: [String: String] = ["name": "WhatsApp Business API"]
                for (key, value) in settings { fields["config.\(key)"] = value }
                let (headers, body) = admin.form(fields)
                let saved = try await app.postForm("/settings/integrations/\(id)/save", body, headers: headers)
                #expect(saved.status == .seeOther, "\(saved.html)")

                // Script: JSON with the X-CSRF-Token header.
                var jsonHeaders = admin.headers
                jsonHeaders.replaceOrAdd(name: .accept, value: "application/json")
                jsonHeaders.replaceOrAdd(name: "X-CSRF-Token", value: admin.csrf)
                let viaScript = try await app.postForm("/settings/integrations/\(id)/test", ["test_type": "connection"], headers: jsonHeaders)
                #expect(viaScript.status == .ok)
                #expect(try json(viaScript)["status"] as? String == "success")

                // No script: form post, redirect, the page shows the result, the log and the health.
                let (_, testBody) = admin.form(["test_type": "connection"])
                var browserHeaders = headers
                browserHeaders.replaceOrAdd(name: .accept, value: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
                let viaForm = try await app.postForm("/settings/integrations/\(id)/test", testBody, headers: browserHeaders)
                #expect(viaForm.status == .seeOther)
                #expect(viaForm.location == "/settings/integrations/\(id)#test-result")
                let page = try await app.page("/settings/integrations/\(id)", headers: admin.headers)
                #expect(page.html.contains("data-testid=\"test-result\" data-status=\"success\""))
                #expect(page.html.components(separatedBy: "data-testid=\"test-log-row\"").count - 1 == 2)
                #expect(page.html.contains("<circle class=\"dot\""))
                #expect(!page.html.contains(try #require(settings["access_token"])))

                // A bad token: the provider's own message is shown.
                let (_, bad) = admin.form(["config.access_token": "not-a-valid-token"])
                _ = try await app.postForm("/settings/integrations/\(id)/save", bad, headers: headers)
                _ = try await app.postForm("/settings/integrations/\(id)/test", testBody, headers: headers)
                let failed = try await app.page("/settings/integrations/\(id)", headers: admin.headers)
                #expect(failed.html.contains("data-testid=\"test-result\" data-status=\"failed\""))
                #expect(failed.html.contains("Invalid OAuth access token"))
            }
        }
    }

    @Test("an invalid setting is shown next to its field, with what was entered")
    func validationNextToField() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("email")
            let (headers, body) = admin.form(["name": "SendGrid Email Service", "config.from_email": "not-an-address"])
            let res = try await app.postForm("/settings/integrations/\(id)/save", body, headers: headers)
            #expect(res.status == .unprocessableEntity)
            #expect(res.html.contains("id=\"field-from_email-error\""))
            #expect(res.html.contains("value=\"not-an-address\""))
            #expect(res.html.contains("data-testid=\"form-error\""))
            // The language link of a page answering a post leads to the page, not to the post's address.
            #expect(res.html.contains("href=\"/settings/integrations/\(id)?lang=en\""), "\(res.html)")
            #expect(!res.html.contains("/save?lang="))
        }
    }

    @Test("admins create users, change roles and deactivate (which signs them out); not themselves")
    func usersAdmin() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let (headers, body) = admin.form(["name": "Nora", "email": "nora@example.org", "role": "manager", "password": "a long password"])
            let created = try await app.postForm("/settings/users", body, headers: headers)
            #expect(created.status == .seeOther)
            let nora = try #require(try await User.query(on: app.db).filter(\.$email == "nora@example.org").first())
            #expect(nora.role == .manager)
            #expect(try await app.page("/settings/users", headers: admin.headers).html.contains("nora@example.org"))

            let (_, short) = admin.form(["name": "X", "email": "x@example.org", "role": "staff", "password": "short"])
            let refused = try await app.postForm("/settings/users", short, headers: headers)
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.html.contains("id=\"new-password-error\""))

            let viewer = try await app.browserSession(role: .viewer)
            let (_, demote) = admin.form(["role": "staff"])
            #expect(try await app.postForm("/settings/users/\(viewer.userID.uuidString)", demote, headers: headers).status == .seeOther)
            #expect(try await User.find(viewer.userID, on: app.db)?.role == .staff)
            let (_, deactivate) = admin.form(["is_active": "false"])
            #expect(try await app.postForm("/settings/users/\(viewer.userID.uuidString)", deactivate, headers: headers).status == .seeOther)
            #expect(try await User.find(viewer.userID, on: app.db)?.isActive == false)
            #expect(try await app.page("/settings", headers: viewer.headers).status == .seeOther)

            let own = try await app.postForm("/settings/users/\(admin.userID.uuidString)", deactivate, headers: headers)
            #expect(own.status == .unprocessableEntity)
            #expect(try await User.find(admin.userID, on: app.db)?.isActive == true)
        }
    }

    @Test("the Security tab shows the key provider and reads key versions defensively")
    func securityTab() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let res = try await app.page("/settings/security?lang=en", headers: admin.headers)
            #expect(res.status == .ok)
            #expect(res.html.contains("data-testid=\"key-provider\">local<"))
        }
    }

    @Test("assets are served from /assets only, with their types")
    func assets() async throws {
        try await withMoeenApp { app in
            let css = try await app.page("/assets/admin.css")
            #expect(css.status == .ok)
            #expect(css.headers.contentType?.subType == "css")
            #expect(try await app.page("/assets/admin.js").status == .ok)
            #expect(try await app.page("/assets/..%2FViews%2Fsetup.leaf").status == .notFound)
            #expect(try await app.page("/assets/other.txt").status == .notFound)
        }
    }
}
