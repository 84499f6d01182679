import Foundation
import Logging
import MoeenServer
import NIOCore
import PostgresNIO
import Vapor

/// Where a test's database lives. SQLite in memory by default; PostgreSQL when `MOEEN_TEST_POSTGRES_URL`
/// names a server (an admin URL such as `postgres://postgres@127.0.0.1:55432/postgres`): then the schema is
/// migrated once into a template database and every test gets its own `CREATE DATABASE … TEMPLATE` copy.
enum TestDatabases {
    static var postgresAdminURL: String? {
        let value = ProcessInfo.processInfo.environment["MOEEN_TEST_POSTGRES_URL"]
        return value?.isEmpty == false ? value : nil
    }

    static var isPostgres: Bool { postgresAdminURL != nil }

    /// A fresh, migrated database for one test, and a cleanup to run after it.
    static func make() async throws -> (target: MoeenConfiguration.DatabaseTarget, cleanup: @Sendable () async -> Void) {
        guard let adminURL = postgresAdminURL else {
            return (.sqlite(path: ":memory:"), {})
        }
        let template = try await PostgresTemplate.shared.ensure(adminURL: adminURL)
        let name = "moeen_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try await PostgresAdmin.execute(adminURL: adminURL, "CREATE DATABASE \(name) TEMPLATE \(template)", retries: 20)
        let url = PostgresAdmin.url(adminURL, database: name)
        return (.postgres(url: url), {
            try? await PostgresAdmin.execute(adminURL: adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", retries: 3)
        })
    }

    /// An empty database (no migrations) for tests that exercise migrating itself.
    static func makeEmpty() async throws -> (target: MoeenConfiguration.DatabaseTarget, cleanup: @Sendable () async -> Void) {
        guard let adminURL = postgresAdminURL else {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("moeen-\(UUID().uuidString).sqlite").path
            return (.sqlite(path: path), {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            })
        }
        let name = "moeen_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try await PostgresAdmin.execute(adminURL: adminURL, "CREATE DATABASE \(name)")
        return (.postgres(url: PostgresAdmin.url(adminURL, database: name)), {
            try? await PostgresAdmin.execute(adminURL: adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", retries: 3)
        })
    }
}

/// Migrates the template database once per test process.
actor PostgresTemplate {
    static let shared = PostgresTemplate()
    private var ready: Task<String, any Error>?

    func ensure(adminURL: String) async throws -> String {
        if let ready { return try await ready.value }
        let task = Task<String, any Error> {
            let name = "moeen_template_\(ProcessInfo.processInfo.processIdentifier)"
            try await PostgresAdmin.execute(adminURL: adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            try await PostgresAdmin.execute(adminURL: adminURL, "CREATE DATABASE \(name)")
            let app = try await Application.make(.testing)
            do {
                var config = MoeenConfiguration(environmentName: "testing", database: .postgres(url: PostgresAdmin.url(adminURL, database: name)))
                config.passwordHashCost = 4
                config.environment["MOEEN_MASTER_KEY"] = TestKeys.masterKey
                try await configure(app, configuration: config)
                try await app.autoMigrate()
            } catch {
                try? await app.asyncShutdown()
                throw error
            }
            try await app.asyncShutdown()
            return name
        }
        ready = task
        return try await task.value
    }
}

/// Administrative statements on the PostgreSQL server (create/drop databases).
enum PostgresAdmin {
    static func url(_ adminURL: String, database: String) -> String {
        guard var components = URLComponents(string: adminURL) else { return adminURL }
        components.path = "/" + database
        return components.string ?? adminURL
    }

    static func execute(adminURL: String, _ statement: String, retries: Int = 0) async throws {
        guard let components = URLComponents(string: adminURL), let host = components.host else {
            throw PostgresAdminError(message: "bad MOEEN_TEST_POSTGRES_URL")
        }
        let configuration = PostgresConnection.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password,
            database: String(components.path.dropFirst()).isEmpty ? "postgres" : String(components.path.dropFirst()),
            tls: .disable
        )
        var attempt = 0
        while true {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test-admin"))
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test-admin"))
                } catch {
                    try? await connection.close()
                    throw error
                }
                try await connection.close()
                return
            } catch {
                // CREATE DATABASE … TEMPLATE fails while another copy of the template is being made: try again.
                attempt += 1
                if attempt > retries { throw error }
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }
}

struct PostgresAdminError: Error {
    let message: String
}

/// Runs `body` with an empty (unmigrated) database and removes it afterwards, whatever happens.
func withEmptyDatabase<T>(
    _ body: ((target: MoeenConfiguration.DatabaseTarget, cleanup: @Sendable () async -> Void)) async throws -> T
) async throws -> T {
    let database = try await TestDatabases.makeEmpty()
    do {
        let result = try await body(database)
        await database.cleanup()
        return result
    } catch {
        await database.cleanup()
        throw error
    }
}

extension Application {
    /// Boots the application as `moeen serve` does (`asyncBoot`, which runs the asynchronous start-up hooks:
    /// on SQLite, WAL and a busy timeout on every pooled connection). The tester's own `boot()` runs only
    /// the synchronous hooks, which leaves SQLite in rollback-journal mode with the driver's busy handler
    /// that retries without pause or limit: concurrent writers can then spin on both threads of the
    /// blocking pool forever. Tests that write concurrently call this first.
    func bootAsServe() async throws {
        try await asyncBoot()
    }
}
