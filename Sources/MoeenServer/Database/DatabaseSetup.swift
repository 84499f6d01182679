import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import SQLKit
import Vapor

enum DatabaseSetup {
    /// Registers the configured database (SQLite file in WAL mode, or PostgreSQL) and every migration.
    ///
    /// SQL text is logged at `trace`; the values bound into it never are, at any level (see
    /// `BindFreeDatabaseConfiguration`). Each migration's progress is logged at `debug`; `migrate` says in
    /// one line how many it applied.
    static func configure(_ app: Application, target: MoeenConfiguration.DatabaseTarget) throws {
        switch target {
        case .sqlite(let path):
            if path == ":memory:" {
                app.databases.use(.bindFree(.sqlite(.memory, sqlLogLevel: sqlLogLevel)), as: .sqlite)
            } else {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                if !FileManager.default.fileExists(atPath: directory) {
                    throw ConfigurationError(variable: "MOEEN_SQLITE_PATH", message: "points into a folder that does not exist: \(directory)")
                }
                app.databases.use(
                    .bindFree(.sqlite(.file(path), connectionPoolTimeout: .seconds(30), sqlLogLevel: sqlLogLevel)),
                    as: .sqlite
                )
            }
        case .postgres(let url):
            do {
                var configuration = try SQLPostgresConfiguration(url: url)
                configuration.searchPath = nil
                app.databases.use(
                    .bindFree(.postgres(configuration: configuration, maxConnectionsPerEventLoop: 4, sqlLogLevel: sqlLogLevel)),
                    as: .psql
                )
            } catch {
                throw ConfigurationError(variable: "DATABASE_URL", message: "could not be used: \(error)")
            }
        }
        app.fluent.migrationLogLevel = .debug
        registerMigrations(app.migrations)
    }

    /// The level SQL text is logged at (without its binds).
    static let sqlLogLevel: Logger.Level = .trace

    /// Pragmas for the SQLite file: WAL journal (kept by the file), and on every pooled connection a busy
    /// timeout and `synchronous=NORMAL` (in WAL mode a commit then needs no fsync; the WAL is synced at
    /// checkpoints, so a power loss can drop the last commits but never corrupts the file).
    static func prepareSQLite(_ app: Application) async throws {
        guard let sql = app.db as? any SQLDatabase, sql.dialect.name == "sqlite" else { return }
        try await sql.raw("PRAGMA journal_mode=WAL").run()
        // The pool keeps one connection per event loop: set the per-connection pragmas through each.
        for eventLoop in app.eventLoopGroup.makeIterator() {
            guard let database = app.databases.database(logger: app.logger, on: eventLoop) as? any SQLDatabase else { continue }
            try await database.withSession { connection in
                try await connection.raw("PRAGMA busy_timeout=5000").run()
                try await connection.raw("PRAGMA synchronous=NORMAL").run()
            }
        }
    }

    /// Applies pending migrations and returns how many it applied, logging that in one line ("Applied 14
    /// migrations."; each migration's own lines are at `debug`). On PostgreSQL under an advisory lock, so
    /// several starting processes don't race: the second waits, then finds nothing left to do.
    @discardableResult
    static func migrate(_ app: Application) async throws -> Int {
        let database = app.db
        let applied: Int
        if let sql = database as? any SQLDatabase, sql.dialect.name == "postgresql" {
            applied = try await sql.withSession { session in
                try await session.raw("SELECT pg_advisory_lock(\(literal: advisoryLockKey))").run()
                do {
                    let count = try await applyPending(app)
                    try await session.raw("SELECT pg_advisory_unlock(\(literal: advisoryLockKey))").run()
                    return count
                } catch {
                    try? await session.raw("SELECT pg_advisory_unlock(\(literal: advisoryLockKey))").run()
                    throw error
                }
            }
        } else {
            applied = try await applyPending(app)
        }
        if applied > 0 {
            app.logger.notice("\(appliedSummary(applied))")
        }
        return applied
    }

    /// "Applied 1 migration." / "Applied 14 migrations."
    static func appliedSummary(_ count: Int) -> String {
        "Applied \(count) migration\(count == 1 ? "" : "s")."
    }

    private static func applyPending(_ app: Application) async throws -> Int {
        let migrator = app.migrator
        try await migrator.setupIfNeeded().get()
        let pending = try await migrator.previewPrepareBatch().get().count
        guard pending > 0 else { return 0 }
        try await migrator.prepareBatch().get()
        return pending
    }

    /// A fixed 64-bit key for the migration lock ("moeenmig").
    static let advisoryLockKey: Int64 = 0x6D6F_6565_6E6D_6967

    /// Whether every registered migration has been applied (for `/ready`).
    static func pendingMigrationCount(_ app: Application) async throws -> Int {
        let migrator = app.migrator
        try await migrator.setupIfNeeded().get()
        return try await migrator.previewPrepareBatch().get().count
    }
}
