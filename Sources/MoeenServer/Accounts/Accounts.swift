import Fluent
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// Creating users and API tokens — shared by the commands, the setup page and the admin pages.
struct Accounts {
    let db: any Database
    let passwords: PasswordHashing

    struct Problem: Error, CustomStringConvertible {
        let field: String
        let message: String
        var description: String { "\(field) \(message)" }

        static let emailInUse = Problem(field: "email", message: "is already used by another user")
    }

    static let minimumPasswordLength = 10

    /// A user whose fields have been checked and whose password has been hashed, ready to insert.
    struct NewUser: Sendable {
        let email: String
        let name: String
        let role: UserRole
        let passwordHash: String
    }

    /// Checks and normalises the fields and hashes the password (on the thread pool, before any transaction
    /// is opened, so no lock is held while bcrypt runs). Throws `Problem` naming the field at fault.
    func prepareUser(email rawEmail: String, name rawName: String, role: UserRole, password: String) async throws -> NewUser {
        let email = rawEmail.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard IntegrationCatalog.isEmail(email) else { throw Problem(field: "email", message: "must be an e-mail address") }
        guard !name.isEmpty else { throw Problem(field: "name", message: "is required") }
        guard password.count >= Self.minimumPasswordLength else {
            throw Problem(field: "password", message: "must be at least \(Self.minimumPasswordLength) characters")
        }
        guard try await User.query(on: db).filter(\.$email == email).count() == 0 else { throw Problem.emailInUse }
        return NewUser(email: email, name: name, role: role, passwordHash: try await passwords.hash(password))
    }

    /// Inserts a prepared user. An address taken meanwhile (the unique index on `users.email`) is the same
    /// `Problem` as one taken before.
    func insert(_ new: NewUser) async throws -> User {
        let user = User(email: new.email, name: new.name, passwordHash: new.passwordHash, role: new.role)
        do {
            try await user.create(on: db)
        } catch let error where UniqueViolation.matches(error) {
            throw Problem.emailInUse
        }
        return user
    }

    func createUser(email: String, name: String, role: UserRole, password: String) async throws -> User {
        try await insert(prepareUser(email: email, name: name, role: role, password: password))
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
    var accounts: Accounts { Accounts(db: db, passwords: passwordHashing) }
}

extension Request {
    var accounts: Accounts { Accounts(db: db, passwords: application.passwordHashing) }
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

    /// Redeems the link inside the caller's transaction: marks it used only if it is still unused and
    /// unexpired (one conditional `UPDATE`, whose returned rows say whether this call won), and only while no
    /// user exists. Concurrent posts of the same link — or of two links printed by two processes — create
    /// exactly one admin: on PostgreSQL a transaction-scoped advisory lock serialises redemptions; on SQLite
    /// the `UPDATE`, being the transaction's first statement, takes the database's write lock.
    /// Returns `false` when the link is spent, expired or unknown, or a user already exists.
    static func redeem(_ token: String, on db: any Database, now: Date = Date()) async throws -> Bool {
        guard !token.isEmpty, token.count < 200 else { return false }
        guard let sql = db as? any SQLDatabase else { return false }
        if sql.dialect.name == "postgresql" {
            try await sql.raw("SELECT pg_advisory_xact_lock(\(literal: redeemLockKey))").run()
        }
        let claimed = try await sql.raw("""
            UPDATE setup_tokens SET used_at = \(bind: now)
            WHERE token_hash = \(bind: APITokenFormat.hash(token)) AND used_at IS NULL AND expires_at > \(bind: now)
            RETURNING id
            """).all()
        guard claimed.count == 1 else { return false }
        return try await User.query(on: db).count() == 0
    }

    /// A fixed 64-bit key for the redemption lock ("moeenset").
    static let redeemLockKey: Int64 = 0x6D6F_6565_6E73_6574

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
