import Fluent
import Foundation
import MoeenCore
import Vapor

/// Creating users and API tokens — shared by the commands, the setup page and the admin pages.
struct Accounts {
    let db: any Database
    let passwordCost: Int

    struct Problem: Error, CustomStringConvertible {
        let field: String
        let message: String
        var description: String { "\(field) \(message)" }
    }

    static let minimumPasswordLength = 10

    func createUser(email rawEmail: String, name rawName: String, role: UserRole, password: String) async throws -> User {
        let email = rawEmail.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard IntegrationCatalog.isEmail(email) else { throw Problem(field: "email", message: "must be an e-mail address") }
        guard !name.isEmpty else { throw Problem(field: "name", message: "is required") }
        guard password.count >= Self.minimumPasswordLength else {
            throw Problem(field: "password", message: "must be at least \(Self.minimumPasswordLength) characters")
        }
        guard try await User.query(on: db).filter(\.$email == email).count() == 0 else {
            throw Problem(field: "email", message: "is already used by another user")
        }
        let hash = try Bcrypt.hash(password, cost: passwordCost)
        let user = User(email: email, name: name, passwordHash: hash, role: role)
        try await user.create(on: db)
        return user
    }

    /// Creates a token for the user; returns the token text, which is never stored (only its hash is).
    func createToken(forEmail rawEmail: String, name: String) async throws -> (token: String, record: APIToken) {
        let email = rawEmail.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard let user = try await User.query(on: db).filter(\.$email == email).first() else {
            throw Problem(field: "email", message: "is not a user (create one with `moeen users create`)")
        }
        guard user.isActive else { throw Problem(field: "email", message: "belongs to a deactivated user") }
        let tokenName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !tokenName.isEmpty else { throw Problem(field: "name", message: "is required") }
        let token = APITokenFormat.generate()
        let record = APIToken()
        record.$user.id = try user.requireID()
        record.name = tokenName
        record.tokenHash = APITokenFormat.hash(token)
        record.tokenPrefix = APITokenFormat.displayPrefix(token)
        try await record.create(on: db)
        return (token, record)
    }
}

extension Application {
    var accounts: Accounts { Accounts(db: db, passwordCost: moeenConfiguration.passwordHashCost) }
}

extension Request {
    var accounts: Accounts { Accounts(db: db, passwordCost: moeenConfiguration.passwordHashCost) }
}

/// The one-time link that lets the first admin be created in the browser.
enum SetupLinks {
    static let validity: TimeInterval = 3600

    /// When there is no user yet, makes a fresh token (valid one hour) and returns it; else `nil`.
    static func issueIfNeeded(on db: any Database) async throws -> String? {
        guard try await User.query(on: db).count() == 0 else { return nil }
        let token = APITokenFormat.generate().replacingOccurrences(of: APITokenFormat.prefix, with: "")
        let record = SetupToken()
        record.tokenHash = APITokenFormat.hash(token)
        record.expiresAt = Date().addingTimeInterval(validity)
        try await record.create(on: db)
        return token
    }

    /// The unexpired, unused record for a token, if any.
    static func find(_ token: String, on db: any Database) async throws -> SetupToken? {
        guard !token.isEmpty, token.count < 200 else { return nil }
        return try await SetupToken.query(on: db)
            .filter(\.$tokenHash == APITokenFormat.hash(token))
            .filter(\.$usedAt == nil)
            .filter(\.$expiresAt > Date())
            .first()
    }
}
