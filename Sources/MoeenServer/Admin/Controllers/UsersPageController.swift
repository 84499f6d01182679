import Fluent
import Foundation
import Vapor

/// `/settings/users`: admins list users, create them, change roles and deactivate them.
struct UsersPageController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admins = routes.grouped(RequirePageRole(role: .admin))
        admins.get(SiteURL.users.pathComponents, use: index)
        admins.formPost(SiteURL.users.pathComponents, maxSize: "16kb", use: create)
        admins.formPost(SiteURL.pattern(.user(id: UUID())), maxSize: "16kb", use: update)
    }

    @Sendable
    func index(req: Request) async throws -> Response {
        try await render(req, newUser: nil)
    }

    struct NewUserInput: Decodable {
        let name: String?
        let email: String?
        let role: String?
        let password: String?
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try req.content.decode(NewUserInput.self)
        let language = req.language
        guard let role = input.role.flatMap(UserRole.init(rawValue:)) else {
            return try await render(req, newUser: (input, ["role": Strings.text("required_mark", language)]), status: .unprocessableEntity)
        }
        do {
            let user = try await req.accounts.createUser(email: input.email ?? "", name: input.name ?? "", role: role, password: input.password ?? "")
            let userID = try user.requireID()
            let by = try req.currentUser.id
            req.logger.notice("user created", metadata: ["user_id": "\(userID)", "role": "\(role.rawValue)", "by": "\(by)"])
        } catch let problem as Accounts.Problem {
            return try await render(req, newUser: (input, [problem.field: problem.message]), status: .unprocessableEntity)
        }
        return AdminView.redirect(req, to: SiteURL.users.path, notice: "user_created")
    }

    struct UpdateInput: Decodable {
        let role: String?
        let isActive: String?

        enum CodingKeys: String, CodingKey {
            case role
            case isActive = "is_active"
        }
    }

    @Sendable
    func update(req: Request) async throws -> Response {
        guard let raw = req.parameters.get("user_id"), let id = UUID(uuidString: raw),
              let user = try await User.find(id, on: req.db)
        else { throw APIError.notFound("The user") }
        let input = try req.content.decode(UpdateInput.self)
        let me = try req.currentUser
        let role = input.role.flatMap(UserRole.init(rawValue:)) ?? user.role
        let active = input.isActive.map { $0 == "true" } ?? user.isActive
        if id == me.id, role != user.role || !active {
            return try await render(req, newUser: nil, notice: .init(kind: "error", text: Strings.text("cannot_change_self", req.language)), status: .unprocessableEntity)
        }
        user.role = role
        user.isActive = active
        try await req.db.transaction { db in
            try await user.save(on: db)
            if !active {
                // A deactivated user is signed out everywhere at once.
                try await UserSession.query(on: db).filter(\.$user.$id == id).delete()
            }
        }
        // Its API tokens answer with the new role (or not at all) from now on in this process.
        req.application.tokenLookupCache.forget(userID: id)
        req.logger.notice("user updated", metadata: ["user_id": "\(id)", "role": "\(role.rawValue)", "active": "\(active)", "by": "\(me.id)"])
        return AdminView.redirect(req, to: SiteURL.users.path, notice: "user_updated")
    }

    private func render(_ req: Request, newUser: (input: NewUserInput, errors: [String: String])?,
                        notice: PageFrame.Notice? = nil, status: HTTPResponseStatus = .ok) async throws -> Response {
        let language = req.language
        let me = try req.currentUser
        let users = try await User.query(on: req.db).sort(\.$email).all()
        let page = UsersPage(
            frame: PageFrame(req, title: Strings.text("tab_users", language), tab: .users, notice: notice),
            rows: try users.map { user in
                let id = try user.requireID()
                return UsersPage.Row(
                    id: id.uuidString.lowercased(), name: user.name, email: user.email, role: user.role.rawValue,
                    roleLabel: Strings.text("role_\(user.role.rawValue)", language),
                    active: StatusBadge(value: user.isActive ? "on" : "off", label: Strings.text(user.isActive ? "active" : "inactive", language),
                                        icon: user.isActive ? "✓" : "–"),
                    isActive: user.isActive,
                    lastLogin: user.lastLoginAt.map { TimeDisplay($0, language) },
                    updateAction: SiteURL.user(id: id).path, isSelf: id == me.id,
                    roleOptions: UsersPage.roleOptions(selected: user.role, language)
                )
            },
            newUser: UsersPage.NewUser(
                action: SiteURL.users.path, name: newUser?.input.name ?? "", email: newUser?.input.email ?? "",
                roleOptions: UsersPage.roleOptions(selected: newUser?.input.role.flatMap(UserRole.init(rawValue:)) ?? .viewer, language),
                errors: newUser?.errors ?? [:], minimumPasswordLength: Accounts.minimumPasswordLength
            )
        )
        return try await AdminView.render("admin-users", page, status: status, for: req)
    }
}
