import Fluent
import SQLKit
import Synchronization
import Vapor

/// `GET /health` (liveness) and `GET /ready` (database answers, migrations applied, key provider available).
struct HealthController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("health", use: health)
        routes.get("ready", use: ready)
    }

    struct Status: Content {
        let status: String
        var reason: String?
    }

    @Sendable
    func health(req: Request) async throws -> Status {
        Status(status: "ok")
    }

    @Sendable
    func ready(req: Request) async throws -> Response {
        do {
            guard let sql = req.db as? any SQLDatabase else { throw APIError(.serviceUnavailable, code: "unavailable", message: "no SQL database") }
            try await sql.raw("SELECT 1").run()
            let pending = try await req.application.readiness.pendingMigrations(req.application)
            if pending > 0 {
                return try await Status(status: "unavailable", reason: "\(pending) migrations are not applied yet")
                    .encodeResponse(status: .serviceUnavailable, for: req)
            }
            // A key provider that was down at start is retried in the background; until it answers, not ready.
            if let problem = req.application.keyProviderProblem {
                return try await Status(status: "unavailable", reason: problem)
                    .encodeResponse(status: .serviceUnavailable, for: req)
            }
            return try await Status(status: "ready").encodeResponse(for: req)
        } catch {
            req.logger.warning("not ready", metadata: ["error": "\(error)"])
            return try await Status(status: "unavailable", reason: "the database does not answer")
                .encodeResponse(status: .serviceUnavailable, for: req)
        }
    }
}

/// Remembers that migrations were complete once seen, so `/ready` costs one `SELECT 1` afterwards.
final class Readiness: Sendable {
    private let migrated = Mutex(false)

    func pendingMigrations(_ app: Application) async throws -> Int {
        if migrated.withLock({ $0 }) { return 0 }
        let pending = try await DatabaseSetup.pendingMigrationCount(app)
        if pending == 0 { migrated.withLock { $0 = true } }
        return pending
    }
}

extension Application {
    private struct ReadinessKey: StorageKey {
        typealias Value = Readiness
    }

    /// Set once by `configure`.
    var readiness: Readiness {
        get { storage[ReadinessKey.self] ?? Readiness() }
        set { storage[ReadinessKey.self] = newValue }
    }
}
