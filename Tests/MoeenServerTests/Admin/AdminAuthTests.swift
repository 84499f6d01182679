import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("Admin pages: sign-in, sessions, roles, CSRF")
struct AdminAuthTests {
    /// Opens the sign-in page and returns the form token cookie and field value.
    func loginForm(_ app: Application) async throws -> String {
        let res = try await app.page("/login")
        #expect(res.status == .ok)
        let cookie = try #require(res.setCookie(LoginController.formCookie))
        #expect(cookie.header.contains("HttpOnly"))
        #expect(cookie.header.lowercased().contains("samesite=strict"))
        #expect(res.html.contains("value=\"\(cookie.value)\""))
        return cookie.value
    }

    func signIn(_ app: Application, email: String, password: String, next: String? = nil) async throws -> TestingHTTPResponse {
        let token = try await loginForm(app)
        var fields = ["email": email, "password": password, "csrf_token": token]
        if let next { fields["next"] = next }
        return try await app.postForm("/login", fields, headers: ["Cookie": "\(LoginController.formCookie)=\(token)"])
    }

    @Test("sign-in with the right password starts a session: HttpOnly, SameSite=Lax cookie, hash stored, redirect to next")
    func signInWorks() async throws {
        try await withMoeenApp { app in
            _ = try await app.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
            let res = try await signIn(app, email: "Admin@Example.org", password: "correct horse battery", next: "/settings/integrations")
            #expect(res.status == .seeOther)
            #expect(res.location == "/settings/integrations")
            let cookie = try #require(res.setCookie(SessionCookie.name))
            #expect(cookie.header.contains("HttpOnly"))
            #expect(cookie.header.lowercased().contains("samesite=lax"))
            #expect(!cookie.header.contains("Secure"))
            let sessions = try await UserSession.query(on: app.db).all()
            #expect(sessions.count == 1)
            #expect(sessions.first?.tokenHash == SessionCookie.hash(cookie.value))
            #expect(sessions.first?.tokenHash != cookie.value)

            let page = try await app.page("/settings/integrations", headers: ["Cookie": "\(SessionCookie.name)=\(cookie.value)"])
            #expect(page.status == .ok)
            #expect(page.html.contains("data-testid=\"integration-row\""))
        }
    }

    @Test("every cookie is Secure when MOEEN_PUBLIC_URL is https: the form token, the session, its clearing")
    func secureCookie() async throws {
        try await withMoeenApp(customize: { $0.publicURL = "https://hub.example.org" }) { app in
            _ = try await app.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
            let form = try await app.page("/login")
            #expect(try #require(form.setCookie(LoginController.formCookie)).header.contains("Secure"))
            let res = try await signIn(app, email: "admin@example.org", password: "correct horse battery")
            let session = try #require(res.setCookie(SessionCookie.name))
            #expect(session.header.contains("Secure"))
            #expect(try #require(res.setCookie(LoginController.formCookie)).header.contains("Secure"))
            let csrf = try #require(try await UserSession.query(on: app.db).first()).csrfToken
            let out = try await app.postForm("/logout", ["csrf_token": csrf], headers: ["Cookie": "\(SessionCookie.name)=\(session.value)"])
            #expect(try #require(out.setCookie(SessionCookie.name)).header.contains("Secure"))
        }
    }

    @Test("a signed-in post keeps the route's small body limit while the CSRF check reads the form: 413, nothing done")
    func csrfKeepsBodyLimit() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            // Over a real connection, so the body arrives as a stream and limits apply as in production.
            let server = try app.testing(method: .running(hostname: "127.0.0.1", port: 0))
            func post(_ path: String, _ fields: [String: String]) async throws -> TestingHTTPResponse {
                let (headers, body) = admin.form(fields)
                return try await server.sendRequest(.POST, path, headers: headers) { req in
                    try req.content.encode(body, as: .urlEncodedForm)
                }
            }
            // /logout and /settings/users take at most 16 kB; with the right token, 40 kB must still be refused.
            let padding = String(repeating: "x", count: 40_000)
            #expect(try await post("/logout", ["padding": padding]).status == .payloadTooLarge)
            #expect(try await UserSession.query(on: app.db).count() == 1)
            let newUser = ["name": "N", "email": "n@example.org", "role": "viewer", "password": "0123456789ab"]
            #expect(try await post("/settings/users", newUser.merging(["padding": padding]) { $1 }).status == .payloadTooLarge)
            #expect(try await User.query(on: app.db).count() == 1)
            // Within the limit the same posts work (the client follows their redirects).
            #expect(try await post("/settings/users", newUser).status == .ok)
            #expect(try await User.query(on: app.db).count() == 2)
            #expect(try await post("/logout", [:]).status == .ok)
            #expect(try await UserSession.query(on: app.db).count() == 0)
        }
    }

    @Test("a wrong password, an unknown address and a deactivated user are refused alike; no open redirect")
    func signInRefused() async throws {
        try await withMoeenApp { app in
            let user = try await app.accounts.createUser(email: "staff@example.org", name: "Staff", role: .staff, password: "correct horse battery")
            for (email, password) in [("staff@example.org", "wrong password!"), ("nobody@example.org", "correct horse battery")] {
                let res = try await signIn(app, email: email, password: password)
                #expect(res.status == .unauthorized)
                #expect(res.html.contains("data-testid=\"login-error\""))
                #expect(res.setCookie(SessionCookie.name) == nil)
            }
            user.isActive = false
            try await user.save(on: app.db)
            #expect(try await signIn(app, email: "staff@example.org", password: "correct horse battery").status == .unauthorized)
            user.isActive = true
            try await user.save(on: app.db)
            let res = try await signIn(app, email: "staff@example.org", password: "correct horse battery", next: "//evil.example/x")
            #expect(res.location == "/settings")
        }
    }

    @Test("a sign-in post without the form token (a cross-site post) is refused with 403")
    func signInNeedsFormToken() async throws {
        try await withMoeenApp { app in
            _ = try await app.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
            let res = try await app.postForm("/login", ["email": "admin@example.org", "password": "correct horse battery"])
            #expect(res.status == .forbidden)
            #expect(res.setCookie(SessionCookie.name) == nil)
        }
    }

    @Test("five failed sign-ins from one address → 429 with Retry-After and a message in both languages, even with the right password")
    func rateLimited() async throws {
        try await withMoeenApp { app in
            _ = try await app.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
            for _ in 0..<5 {
                #expect(try await signIn(app, email: "admin@example.org", password: "not the password").status == .unauthorized)
            }
            let res = try await signIn(app, email: "admin@example.org", password: "correct horse battery")
            #expect(res.status == .tooManyRequests)
            #expect(Int(res.headers.first(name: .retryAfter) ?? "") ?? 0 > 0)
            #expect(res.html.contains(Strings.text("login_rate_limited", .ar)))
            #expect(res.html.contains(Strings.text("login_rate_limited", .en)))
            #expect(res.setCookie(SessionCookie.name) == nil)
        }
    }

    @Test("signed out, every page redirects to /login?next=…; unsafe actions too")
    func signedOutRedirects() async throws {
        try await withMoeenApp { app in
            let id = try await app.integrationID("whatsapp")
            for path in ["/settings", "/settings/integrations", "/settings/users", "/settings/alerts", "/settings/security", "/settings/integrations/\(id)"] {
                let res = try await app.page(path)
                #expect(res.status == .seeOther, "\(path)")
                #expect(res.location == SiteURL.login(next: path), "\(path)")
                #expect(res.location?.hasPrefix("/login?next=") == true)
            }
            for path in ["/settings/integrations/\(id)/save", "/settings/integrations/\(id)/test", "/settings/integrations/\(id)/enable", "/settings/users"] {
                let res = try await app.postForm(path, ["name": "x"])
                #expect(res.status == .seeOther, "\(path)")
                #expect(res.location == "/login", "\(path)")
            }
        }
    }

    @Test("an expired session is signed out")
    func expiredSession() async throws {
        try await withMoeenApp { app in
            let browser = try await app.browserSession(role: .admin)
            let session = try #require(try await UserSession.query(on: app.db).first())
            session.expiresAt = Date().addingTimeInterval(-1)
            try await session.save(on: app.db)
            let res = try await app.page("/settings", headers: browser.headers)
            #expect(res.status == .seeOther)
            #expect(try await UserSession.query(on: app.db).count() == 0)
        }
    }

    @Test("a viewer reads pages but gets 403 on save, test, enable, users and security")
    func viewerForbidden() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.browserSession(role: .viewer)
            let id = try await app.integrationID("whatsapp")
            #expect(try await app.page("/settings", headers: viewer.headers).status == .ok)
            #expect(try await app.page("/settings/integrations", headers: viewer.headers).status == .ok)
            let detail = try await app.page("/settings/integrations/\(id)", headers: viewer.headers)
            #expect(detail.status == .ok)
            #expect(!detail.html.contains("data-testid=\"save-integration\""))
            #expect(!detail.html.contains("data-testid=\"test-connection\""))
            #expect(try await app.page("/settings/users", headers: viewer.headers).status == .forbidden)
            #expect(try await app.page("/settings/security", headers: viewer.headers).status == .forbidden)
            for path in ["/settings/integrations/\(id)/save", "/settings/integrations/\(id)/test", "/settings/integrations/\(id)/enable", "/settings/users"] {
                let (headers, body) = viewer.form(["name": "changed", "email": "x@example.org", "role": "admin", "password": "0123456789ab"])
                let res = try await app.postForm(path, body, headers: headers)
                #expect(res.status == .forbidden, "\(path)")
                #expect(res.html.contains("data-testid=\"error-page\""))
            }
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
            #expect(row.name == "WhatsApp Business API")
            #expect(try await User.query(on: app.db).count() == 1)
        }
    }

    @Test("a manager may test but not save; staff may do neither")
    func managerAndStaff() async throws {
        try await withMoeenApp { app in
            let id = try await app.integrationID("slack")
            let manager = try await app.browserSession(role: .manager)
            let detail = try await app.page("/settings/integrations/\(id)", headers: manager.headers)
            #expect(detail.html.contains("data-testid=\"test-connection\""))
            #expect(!detail.html.contains("data-testid=\"save-integration\""))
            let (headers, body) = manager.form(["name": "x"])
            #expect(try await app.postForm("/settings/integrations/\(id)/save", body, headers: headers).status == .forbidden)
            let staff = try await app.browserSession(role: .staff)
            let (staffHeaders, staffBody) = staff.form([:])
            #expect(try await app.postForm("/settings/integrations/\(id)/test", staffBody, headers: staffHeaders).status == .forbidden)
        }
    }

    @Test("a form post without the CSRF token, or with another session's, is refused with 403 and changes nothing")
    func csrfRequired() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let other = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("whatsapp")
            let (headers, body) = admin.form(["name": "Renamed"], csrf: false)
            let res = try await app.postForm("/settings/integrations/\(id)/save", body, headers: headers)
            #expect(res.status == .forbidden)
            #expect(res.html.contains(Strings.text("csrf_title", .ar)))
            var wrong = body
            wrong["csrf_token"] = other.csrf
            #expect(try await app.postForm("/settings/integrations/\(id)/save", wrong, headers: headers).status == .forbidden)
            #expect(try await app.postForm("/logout", [:], headers: headers).status == .forbidden)
            let newUser = ["name": "N", "email": "n@example.org", "role": "admin", "password": "0123456789ab"]
            #expect(try await app.postForm("/settings/users", newUser, headers: headers).status == .forbidden)
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
            #expect(row.name == "WhatsApp Business API")
            #expect(try await User.query(on: app.db).count() == 2)
        }
    }

    @Test("session-authenticated API calls need X-CSRF-Token on unsafe methods; reads don't")
    func apiWithSession() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let list = try await app.page("/api/integrations", headers: admin.headers)
            #expect(list.status == .ok)
            let body = #"{"integration_type":"slack","name":"Second Slack"}"#
            var headers = admin.headers
            headers.contentType = .json
            let refused = try await app.testing().sendRequest(.POST, "/api/integrations", headers: headers, body: ByteBuffer(string: body))
            #expect(refused.status == .forbidden)
            #expect(try errorCode(refused) == "csrf_failed")
            headers.replaceOrAdd(name: "X-CSRF-Token", value: admin.csrf)
            let created = try await app.testing().sendRequest(.POST, "/api/integrations", headers: headers, body: ByteBuffer(string: body))
            #expect(created.status == .created)
        }
    }

    @Test("sign-out deletes the session and clears the cookie")
    func signOut() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let (headers, body) = admin.form([:])
            let res = try await app.postForm("/logout", body, headers: headers)
            #expect(res.status == .seeOther)
            #expect(res.location?.hasPrefix("/login") == true)
            #expect(try #require(res.setCookie(SessionCookie.name)).value.isEmpty)
            #expect(try await UserSession.query(on: app.db).count() == 0)
            #expect(try await app.page("/settings", headers: admin.headers).status == .seeOther)
        }
    }

    @Test("Arabic right-to-left by default; ?lang=en switches to English left-to-right and is remembered")
    func languageSwitch() async throws {
        try await withMoeenApp { app in
            let arabic = try await app.page("/login")
            #expect(arabic.html.contains("<html lang=\"ar\" dir=\"rtl\">"))
            #expect(arabic.html.contains(Strings.text("login_title", .ar)))
            let english = try await app.page("/login?lang=en")
            #expect(english.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.html.contains("Sign in"))
            let cookie = try #require(english.setCookie(Language.cookieName))
            #expect(cookie.value == "en")
            let admin = try await app.browserSession(role: .admin)
            var headers = admin.headers
            headers.replaceOrAdd(name: "Cookie", value: "\(SessionCookie.name)=\(admin.cookie); \(Language.cookieName)=en")
            let remembered = try await app.page("/settings/integrations", headers: headers)
            #expect(remembered.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(remembered.html.contains("Integrations"))
            #expect(remembered.html.contains("href=\"/settings/integrations?lang=ar\""))
        }
    }

    @Test("every string has both languages")
    func stringTable() {
        for (key, entry) in Strings.table {
            #expect(!entry.ar.isEmpty && !entry.en.isEmpty, "\(key)")
        }
        for role in UserRole.allCases { #expect(Strings.table["role_\(role.rawValue)"] != nil) }
        for tab in SiteURL.SettingsTab.allCases { #expect(Strings.table["tab_\(tab.rawValue)"] != nil) }
        for status in IntegrationConfig.statuses { #expect(Strings.table["status_\(status)"] != nil) }
        for result in ["success", "failed", "timeout", "pending"] { #expect(Strings.table["result_\(result)"] != nil) }
        for notice in PageFrame.noticeKeys { #expect(Strings.table[notice] != nil) }
    }
}
