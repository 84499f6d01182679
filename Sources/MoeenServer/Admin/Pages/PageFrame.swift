import Foundation
import Vapor

/// What every admin page shows around its content: language and direction, the string table, who is
/// signed in, the CSRF token for its forms, the settings tabs and a one-line notice.
struct PageFrame: Encodable {
    struct Tab: Encodable {
        let id: String
        let label: String
        let href: String
        let current: Bool
    }

    struct Viewer: Encodable {
        let name: String
        let email: String
        let roleLabel: String
        let isAdmin: Bool
        let canTest: Bool
    }

    struct Notice: Encodable {
        /// `success` or `error`.
        let kind: String
        let text: String
    }

    let lang: String
    let dir: String
    let t: [String: String]
    let title: String
    let viewer: Viewer?
    let csrfToken: String?
    let tabs: [Tab]
    let languageHref: String
    let otherLang: String
    let notice: Notice?
    let logoutPath: String
    let stylesheet: String
    let script: String

    /// Notices a redirect may ask for (`?notice=saved`); anything else is ignored.
    static let noticeKeys: Set<String> = [
        "saved", "now_enabled", "now_disabled", "user_created", "user_updated", "signed_out",
        "message_requeued", "message_cancelled", "quiet_hours_saved", "opt_out_exists", "opt_out_removed",
    ]
    /// Notices a redirect may ask for that report an action refused (shown as errors).
    static let errorNoticeKeys: Set<String> = ["message_retry_refused", "message_cancel_refused"]

    /// - Parameter languagePath: the page's own address, for the language link of a page that answers a form
    ///   post (the post's address has no GET route). Without it, a post's page links to its tab.
    init(_ req: Request, title: String, tab: SiteURL.SettingsTab? = nil, notice: Notice? = nil, languagePath: String? = nil) {
        let language = req.language
        lang = language.rawValue
        dir = language.direction
        t = Strings.all(language)
        self.title = title
        if let user = req.auth.get(AuthenticatedUser.self) {
            viewer = Viewer(name: user.name, email: user.email, roleLabel: Strings.text("role_\(user.role.rawValue)", language),
                            isAdmin: user.role == .admin, canTest: user.role.isAtLeast(.manager))
            tabs = SiteURL.SettingsTab.allCases.map { item in
                Tab(id: item.rawValue, label: Strings.text("tab_\(item.rawValue)", language),
                    href: SiteURL.settings(item).path, current: item == tab)
            }
        } else {
            viewer = nil
            tabs = []
        }
        csrfToken = req.currentSession?.csrfToken
        otherLang = language.other.rawValue
        let pagePath = languagePath ?? (req.method == .GET ? req.url.path : tab.map { SiteURL.settings($0).path } ?? req.url.path)
        languageHref = Self.href(req, path: pagePath, replacingLanguageWith: language.other)
        if let notice {
            self.notice = notice
        } else if let key = req.query[String.self, at: "notice"], Self.noticeKeys.contains(key) {
            self.notice = Notice(kind: "success", text: Strings.text(key, language))
        } else if let key = req.query[String.self, at: "notice"], Self.errorNoticeKeys.contains(key) {
            self.notice = Notice(kind: "error", text: Strings.text(key, language))
        } else {
            self.notice = nil
        }
        logoutPath = SiteURL.logout.path
        stylesheet = SiteURL.asset("admin.css").path
        script = SiteURL.asset("admin.js").path
    }

    /// `path` with the current query and `lang=` set to `language` (other query items kept, `notice` dropped).
    static func href(_ req: Request, path: String, replacingLanguageWith language: Language) -> String {
        var components = URLComponents()
        components.path = path
        var items = (URLComponents(string: req.url.string)?.queryItems ?? []).filter { $0.name != "lang" && $0.name != "notice" }
        items.append(URLQueryItem(name: "lang", value: language.rawValue))
        components.queryItems = items
        return components.string ?? "?lang=\(language.rawValue)"
    }
}

/// Renders admin pages with the headers every page carries.
enum AdminView {
    static func render(_ template: String, _ context: some Encodable, status: HTTPResponseStatus = .ok, for req: Request) async throws -> Response {
        let response = try await req.view.render(template, context).encodeResponse(for: req)
        response.status = status
        applySecurityHeaders(response, language: req.language)
        return response
    }

    static func applySecurityHeaders(_ response: Response, language: Language) {
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        response.headers.replaceOrAdd(name: "Content-Security-Policy", value:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        response.headers.replaceOrAdd(name: "Content-Language", value: language.rawValue)
    }

    /// Post/Redirect/Get: back to `path`, with an optional notice key and the language kept in the cookie.
    static func redirect(_ req: Request, to path: String, notice: String? = nil) -> Response {
        var target = path
        if let notice { target += (path.contains("?") ? "&" : "?") + "notice=\(notice)" }
        return req.redirect(to: target, redirectType: .normal)
    }
}
