import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
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
    do {
        let result = try await withMoeenApp(database: database.target, customize: customize, body)
        await database.cleanup()
        return result
    } catch {
        await database.cleanup()
        throw error
    }
}

/// Runs `body` with an application on an existing database (migrating it when needed): for tests that
/// restart the service on the same data.
func withMoeenApp<T>(
    database: MoeenConfiguration.DatabaseTarget,
    customize: @escaping @Sendable (inout MoeenConfiguration) -> Void = { _ in },
    _ body: @Sendable (Application) async throws -> T
) async throws -> T {
    _ = LogCapture.shared
    let app = try await Application.make(.testing)
    do {
        var config = MoeenConfiguration(environmentName: "testing", database: database)
        config.passwordHashCost = 4
        config.logLevel = .trace
        config.environment["MOEEN_MASTER_KEY"] = TestKeys.masterKey
        config.allowPrivateTargets = true
        // No test may send traffic off the machine.
        config.outboundAllowlist = .loopback
        customize(&config)
        try await configure(app, configuration: config)
        try await app.autoMigrate()
        // Boot as `moeen serve` does (the synchronous boot of `testing()` skips the async start-up hooks):
        // SQLite's busy timeout and WAL, so concurrent writers in a test wait instead of spinning.
        try await app.asyncBoot()
        let result = try await body(app)
        try await app.asyncShutdown()
        return result
    } catch {
        try? await app.asyncShutdown()
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

/// Keys for tests: made fresh for each test process, never written anywhere.
enum TestKeys {
    static let masterKey = randomKey()
    static let otherMasterKey = randomKey()

    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }
}

/// Starts a stand-in of `type` on a free port for the duration of `body`.
func withStandIn<R>(_ type: IntegrationType, _ body: (any ProviderStandIn, [String: String]) async throws -> R) async throws -> R {
    let standIn = StandIns.make(type)
    let url = try await standIn.start()
    do {
        let result = try await body(standIn, standIn.workingSettings(baseURL: url))
        try await standIn.shutdown()
        return result
    } catch {
        try? await standIn.shutdown()
        throw error
    }
}

extension Application {
    /// Sends a JSON request through the in-memory tester and returns the status and the decoded body.
    func call(_ method: HTTPMethod, _ path: String, auth: String?, body: JSONValue? = nil) async throws -> (status: HTTPStatus, json: [String: Any], text: String) {
        var headers: HTTPHeaders = [:]
        if let auth { headers.add(name: .authorization, value: auth) }
        headers.contentType = .json
        var result: (HTTPStatus, [String: Any], String) = (.internalServerError, [:], "")
        try await testing().test(method, path, headers: headers, beforeRequest: { req in
            if let body { req.body = ByteBuffer(string: body.jsonText()) }
        }) { res async throws in
            let text = res.body.string
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: res.body))) as? [String: Any] ?? [:]
            result = (res.status, object, text)
        }
        return result
    }
}
