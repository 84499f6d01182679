import Fluent
import Vapor

/// `/setup`: creates the first admin from the one-time link printed by `moeen serve`.
struct SetupController: RouteCollection {
    /// Redemptions in this process run one at a time. The database alone already admits only one (see
    /// `SetupLinks.redeem`); queueing here as well keeps concurrent posts from waiting on SQLite's write lock
    /// while holding blocking-pool threads that the transaction holding it needs to finish.
    let redemptions = SerialGate()

    func boot(routes: any RoutesBuilder) throws {
        routes.get("setup", use: form)
        routes.formPost(["setup"], maxSize: "64kb", use: submit)
    }

    struct PageContext: Encodable {
        let token: String
        let email: String
        let name: String
        let errors: [String: String]
        let minimumPasswordLength: Int
    }

    /// The page as rendered: the shared admin frame around the form's values.
    struct Page: Encodable {
        let frame: PageFrame
        let form: PageContext
        let action: String
    }

    struct DonePage: Encodable {
        let frame: PageFrame
        let email: String
        let loginHref: String
    }

    @Sendable
    func form(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"] ?? ""
        guard try await SetupLinks.find(token, on: req.db) != nil else {
            return try await expired(req)
        }
        return try await page(req, PageContext(token: token, email: "", name: "", errors: [:], minimumPasswordLength: Accounts.minimumPasswordLength))
    }

    struct Submission: Decodable {
        let token: String?
        let email: String?
        let name: String?
        let password: String?
        let passwordConfirmation: String?

        enum CodingKeys: String, CodingKey {
            case token, email, name, password
            case passwordConfirmation = "password_confirmation"
        }
    }

    /// Creates the first admin. Everything that can fail on its own (the fields, the password's hash) is done
    /// first; then one transaction redeems the link and inserts the user, so that of any number of posts with
    /// the link, at once or one after another, exactly one creates an admin and the others see the expired page.
    @Sendable
    func submit(req: Request) async throws -> Response {
        let input = try req.content.decode(Submission.self)
        let token = input.token ?? ""
        guard try await SetupLinks.find(token, on: req.db) != nil,
              try await User.query(on: req.db).count() == 0
        else {
            return try await expired(req)
        }
        let email = input.email ?? ""
        let name = input.name ?? ""
        let password = input.password ?? ""
        if password != (input.passwordConfirmation ?? "") {
            return try await page(req, PageContext(
                token: token, email: email, name: name,
                errors: ["password_confirmation": Strings.text("passwords_differ", req.language)],
                minimumPasswordLength: Accounts.minimumPasswordLength
            ), status: .unprocessableEntity)
        }
        let passwords = req.application.passwordHashing
        do {
            let newUser = try await req.accounts.prepareUser(email: email, name: name, role: .admin, password: password)
            try await redemptions.run {
                try await req.db.transaction { db in
                    guard try await SetupLinks.redeem(token, on: db) else { throw SetupLinkSpent() }
                    _ = try await Accounts(db: db, passwords: passwords).insert(newUser)
                }
            }
        } catch let problem as Accounts.Problem {
            return try await page(req, PageContext(
                token: token, email: email, name: name,
                errors: [problem.field: problem.message],
                minimumPasswordLength: Accounts.minimumPasswordLength
            ), status: .unprocessableEntity)
        } catch is SetupLinkSpent {
            req.logger.notice("refused a setup link that another request had just used")
            return try await expired(req)
        }
        req.logger.notice("first admin created", metadata: ["email": "\(email.lowercased())"])
        let done = DonePage(frame: PageFrame(req, title: Strings.text("setup_done_title", req.language)),
                            email: email.lowercased(), loginHref: SiteURL.login.path)
        return try await AdminView.render("setup-done", done, for: req)
    }

    private func page(_ req: Request, _ context: PageContext, status: HTTPResponseStatus = .ok) async throws -> Response {
        let page = Page(frame: PageFrame(req, title: Strings.text("setup_title", req.language)), form: context, action: SiteURL.setup.path)
        return try await AdminView.render("setup", page, status: status, for: req)
    }

    private func expired(_ req: Request) async throws -> Response {
        let page = ErrorPages.Context(
            frame: PageFrame(req, title: Strings.text("setup_expired_title", req.language)),
            heading: Strings.text("setup_expired_title", req.language),
            body: Strings.text("setup_expired_body", req.language), backHref: SiteURL.login.path
        )
        return try await AdminView.render("setup-expired", page, status: .notFound, for: req)
    }
}

/// Thrown inside the setup transaction when the link was spent by a concurrent request (rolls it back).
struct SetupLinkSpent: Error {}

/// Runs async work one piece at a time, in arrival order, without blocking a thread while waiting.
actor SerialGate {
    private var running = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T {
        if running {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            running = true
        }
        defer {
            if waiting.isEmpty {
                running = false
            } else {
                waiting.removeFirst().resume()
            }
        }
        return try await work()
    }
}
