import Fluent
import Foundation
import Vapor

/// `/login` and `/logout`: password sign-in into a server-side session, rate-limited per client address and
/// per account across every process (`LoginRateLimiter`); passwords are checked off the event loop.
struct LoginController: RouteCollection {
    /// Before a session exists the sign-in form is protected by a double-submit token: a random value in a
    /// SameSite=Strict cookie that the form must echo. A cross-site post carries neither.
    static let formCookie = "moeen_login_csrf"

    func boot(routes: any RoutesBuilder) throws {
        routes.get(SiteURL.login.components.map { PathComponent(stringLiteral: $0) }, use: form)
        routes.formPost(SiteURL.login.components.map { PathComponent(stringLiteral: $0) }, maxSize: "16kb", use: submit)
        routes.formPost(SiteURL.logout.components.map { PathComponent(stringLiteral: $0) }, maxSize: "16kb", use: logout)
    }

    struct Page: Encodable {
        let frame: PageFrame
        let action: String
        let email: String
        let next: String
        let formToken: String
        let error: String?
        let errorOther: String?
    }

    struct Submission: Decodable {
        let email: String?
        let password: String?
        let next: String?
        let csrfToken: String?

        enum CodingKeys: String, CodingKey {
            case email, password, next
            case csrfToken = "csrf_token"
        }
    }

    @Sendable
    func form(req: Request) async throws -> Response {
        if req.auth.has(AuthenticatedUser.self) {
            return req.redirect(to: SiteURL.settings(.general).path, redirectType: .normal)
        }
        let next = req.query[String.self, at: "next"].flatMap(SafeRedirect.localPath) ?? ""
        return try await page(req, email: "", next: next, error: nil, status: .ok)
    }

    @Sendable
    func submit(req: Request) async throws -> Response {
        let input = try req.content.decode(Submission.self)
        let next = input.next.flatMap(SafeRedirect.localPath) ?? ""
        let email = (input.email ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()

        guard let cookie = req.cookies[Self.formCookie]?.string, let sent = input.csrfToken,
              CSRFProtection.constantTimeEquals(cookie, sent)
        else {
            req.logger.notice("refused a sign-in without its form token")
            return try await ErrorPages.render(.csrf, status: .forbidden, for: req)
        }

        let address = req.clientAddress ?? "unknown"
        let attempt: LoginRateLimiter.Attempt
        switch try await req.application.loginRateLimiter.begin(address: address, account: email, on: req.db) {
        case .refused(let wait):
            req.logger.notice("sign-in rate limited", metadata: ["client": "\(address)"])
            let response = try await page(req, email: email, next: next, error: "login_rate_limited", status: .tooManyRequests)
            response.headers.replaceOrAdd(name: .retryAfter, value: String(wait))
            return response
        case .allowed(let allowed):
            attempt = allowed
        }

        let password = input.password ?? ""
        let passwords = req.application.passwordHashing
        let user = email.isEmpty ? nil : try await User.query(on: req.db).filter(\.$email == email).first()
        let verified: Bool
        if let user, user.isActive {
            verified = await passwords.verify(password, against: user.passwordHash)
        } else {
            await passwords.imitateVerify(password)
            verified = false
        }
        guard verified, let user else {
            req.logger.info("sign-in failed", metadata: ["client": "\(address)"])
            return try await page(req, email: email, next: next, error: "login_failed", status: .unauthorized)
        }
        try await req.application.loginRateLimiter.succeeded(attempt, on: req.db)

        let (token, _) = try await SessionCookie.start(for: user, on: req)
        user.lastLoginAt = Date()
        try await user.save(on: req.db)
        try await UserSession.query(on: req.db).filter(\.$user.$id == user.requireID()).filter(\.$expiresAt < Date()).delete()
        let userID = try user.requireID()
        req.logger.notice("signed in", metadata: ["user_id": "\(userID)"])

        let response = req.redirect(to: next.isEmpty ? SiteURL.settings(.general).path : next, redirectType: .normal)
        let secure = req.moeenConfiguration.cookiesAreSecure
        response.cookies[SessionCookie.name] = SessionCookie.cookie(token, secure: secure)
        response.cookies[Self.formCookie] = SessionCookie.expired(secure: secure)
        return response
    }

    @Sendable
    func logout(req: Request) async throws -> Response {
        if let session = req.currentSession {
            try await UserSession.query(on: req.db).filter(\.$id == session.id).delete()
        }
        let response = AdminView.redirect(req, to: SiteURL.login.path, notice: "signed_out")
        response.cookies[SessionCookie.name] = SessionCookie.expired(secure: req.moeenConfiguration.cookiesAreSecure)
        return response
    }

    private func page(_ req: Request, email: String, next: String, error: String?, status: HTTPResponseStatus) async throws -> Response {
        let existing = req.cookies[Self.formCookie]?.string ?? ""
        let formToken = existing.count == 43 ? existing : SessionCookie.randomToken()
        let language = req.language
        let context = Page(
            frame: PageFrame(req, title: Strings.text("login_title", language)),
            action: SiteURL.login.path, email: email, next: next, formToken: formToken,
            error: error.map { Strings.text($0, language) },
            // The rate-limit message is given in both languages.
            errorOther: error == "login_rate_limited" ? Strings.text("login_rate_limited", language.other) : nil
        )
        let response = try await AdminView.render("admin-login", context, status: status, for: req)
        response.cookies[Self.formCookie] = HTTPCookies.Value(
            string: formToken, maxAge: 3600, path: SiteURL.login.path,
            isSecure: req.moeenConfiguration.cookiesAreSecure, isHTTPOnly: true, sameSite: .strict
        )
        return response
    }
}
