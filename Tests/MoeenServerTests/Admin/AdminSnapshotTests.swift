import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// The main admin pages as HTML, so a change to a page reads as a diff (`__Snapshots__/`).
@Suite("Admin pages: HTML snapshots")
struct AdminSnapshotTests {
    func snapshot(_ path: String, _ name: String, role: UserRole = .admin) async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            let browser = try await app.browserSession(role: role, email: "\(role.rawValue)@example.org")
            var resolved = path
            if path.contains("{whatsapp}") {
                resolved = path.replacingOccurrences(of: "{whatsapp}", with: try await app.integrationID("whatsapp"))
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
    @Test("Integrations, Arabic") func integrationsAR() async throws { try await snapshot("/settings/integrations", "settings-integrations.ar") }
    @Test("Integrations, English") func integrationsEN() async throws { try await snapshot("/settings/integrations?lang=en", "settings-integrations.en") }
    @Test("Integration form (WhatsApp), Arabic") func integrationAR() async throws { try await snapshot("/settings/integrations/{whatsapp}", "integration-whatsapp.ar") }
    @Test("Integration form (WhatsApp), English, viewer") func integrationViewer() async throws {
        try await snapshot("/settings/integrations/{whatsapp}?lang=en", "integration-whatsapp.en.viewer", role: .viewer)
    }
    @Test("Users") func users() async throws { try await snapshot("/settings/users?lang=en", "settings-users.en") }
    @Test("Security") func security() async throws { try await snapshot("/settings/security", "settings-security.ar") }
}
