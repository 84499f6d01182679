import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// The one way every server test runs: its own migrated database (SQLite in memory, or a PostgreSQL copy),
/// the real `configure`, and a cleanup afterwards whatever happens.
func withMoeenApp<T>(
    customize: @escaping @Sendable (inout MoeenConfiguration) -> Void = { _ in },
    _ body: @Sendable (Application) async throws -> T
) async throws -> T {
    let database = try await TestDatabases.make()
    let app = try await Application.make(.testing)
    do {
        var config = MoeenConfiguration(environmentName: "testing", database: database.target)
        config.passwordHashCost = 4
        config.logLevel = .warning
        customize(&config)
        try await configure(app, configuration: config)
        if !TestDatabases.isPostgres { try await app.autoMigrate() }
        let result = try await body(app)
        try await app.asyncShutdown()
        await database.cleanup()
        return result
    } catch {
        try? await app.asyncShutdown()
        await database.cleanup()
        throw error
    }
}

extension Application {
    /// Creates a user with that role and an API token for it; returns the `Authorization` header value.
    func bearer(role: UserRole, email: String? = nil) async throws -> String {
        let address = email ?? "\(role.rawValue)-\(UUID().uuidString.prefix(8).lowercased())@example.org"
        _ = try await accounts.createUser(email: address, name: "Test \(role.rawValue)", role: role, password: "correct horse battery")
        let (token, _) = try await accounts.createToken(forEmail: address, name: "tests")
        return "Bearer \(token)"
    }
}

extension HTTPHeaders {
    static func auth(_ bearer: String, json: Bool = true) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Authorization": bearer]
        if json { headers.contentType = .json }
        return headers
    }
}

/// The JSON answer as a dictionary tree, for reading fields in assertions.
func json(_ response: TestingHTTPResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body))
    return try #require(object as? [String: Any])
}

/// `error.code` of an error answer.
func errorCode(_ response: TestingHTTPResponse) throws -> String? {
    (try json(response)["error"] as? [String: Any])?["code"] as? String
}

/// `error.fields` of an error answer.
func errorFields(_ response: TestingHTTPResponse) throws -> [String: String]? {
    (try json(response)["error"] as? [String: Any])?["fields"] as? [String: String]
}
