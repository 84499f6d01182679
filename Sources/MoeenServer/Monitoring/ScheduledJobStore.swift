import Fluent
import Foundation
import SQLKit
import Vapor

/// The SQL of `scheduled_jobs`. A job runs in the process that wins its claim — one conditional `UPDATE`
/// that takes the lease only when the job is due and nobody holds an unexpired lease — so each period of
/// a job runs once across every process on the database (PostgreSQL re-checks the condition on the row a
/// concurrent claim committed; SQLite has one writer). A process that dies mid-run leaves a lease that
/// expires, and the job runs again elsewhere.
struct ScheduledJobStore {
    let db: any Database

    static let table = "scheduled_jobs"

    private var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError, reason: "the scheduler needs an SQL database") }
            return sql
        }
    }

    /// Adds the job, first due at `firstRun`, unless it exists.
    func ensure(_ name: String, firstRun: Date) async throws {
        try await sql.insert(into: Self.table)
            .columns("name", "next_run_at", "run_count")
            .values(SQLBind(name), SQLBind(firstRun), SQLLiteral.numeric("0"))
            .ignoringConflicts(with: ["name"])
            .run()
    }

    /// The names of jobs due at `now` that nobody holds, earliest first.
    func due(now: Date, limit: Int) async throws -> [String] {
        struct Row: Decodable { let name: String }
        return try await sql.select().column("name").from(Self.table)
            .where("next_run_at", .lessThanOrEqual, SQLBind(now))
            .where { $0.where("lease_owner", .is, SQLLiteral.null).orWhere("lease_expires_at", .lessThan, SQLBind(now)) }
            .orderBy("next_run_at")
            .limit(limit)
            .all(decoding: Row.self)
            .map(\.name)
    }

    /// Takes the job's lease for `owner` until `leaseUntil` if it is still due and free; the time it was due
    /// when won, `nil` when another process holds it or already ran it.
    func claim(_ name: String, owner: String, now: Date, leaseUntil: Date) async throws -> Date? {
        struct Row: Decodable { let next_run_at: Date }
        return try await sql.update(Self.table)
            .set("lease_owner", to: SQLBind(owner))
            .set("lease_expires_at", to: SQLBind(leaseUntil))
            .set("last_started_at", to: SQLBind(now))
            .where("name", .equal, SQLBind(name))
            .where("next_run_at", .lessThanOrEqual, SQLBind(now))
            .where { $0.where("lease_owner", .is, SQLLiteral.null).orWhere("lease_expires_at", .lessThan, SQLBind(now)) }
            .returning("next_run_at")
            .first(decoding: Row.self)?.next_run_at
    }

    /// Ends `owner`'s run: the next one is due at `nextRun`. Writes nothing if the lease was lost.
    func complete(_ name: String, owner: String, nextRun: Date, finishedAt: Date, error: String?) async throws {
        try await sql.update(Self.table)
            .set("lease_owner", to: SQLLiteral.null)
            .set("lease_expires_at", to: SQLLiteral.null)
            .set("next_run_at", to: SQLBind(nextRun))
            .set("last_finished_at", to: SQLBind(finishedAt))
            .set("last_error", to: SQLBind(error.map { String($0.prefix(1000)) }))
            .set("run_count", to: SQLRaw("run_count + 1"))
            .where("name", .equal, SQLBind(name))
            .where("lease_owner", .equal, SQLBind(owner))
            .run()
    }

    /// Removes jobs whose subject is gone (a deleted or disabled integration's health check).
    func remove(_ name: String) async throws {
        try await sql.delete(from: Self.table).where("name", .equal, SQLBind(name)).run()
    }

    /// One job as the admin pages and tests read it.
    struct Job: Decodable, Sendable {
        let name: String
        let nextRunAt: Date
        let leaseOwner: String?
        let lastStartedAt: Date?
        let lastFinishedAt: Date?
        let lastError: String?
        let runCount: Int64

        enum CodingKeys: String, CodingKey {
            case name
            case nextRunAt = "next_run_at"
            case leaseOwner = "lease_owner"
            case lastStartedAt = "last_started_at"
            case lastFinishedAt = "last_finished_at"
            case lastError = "last_error"
            case runCount = "run_count"
        }
    }

    func all() async throws -> [Job] {
        try await sql.select().column("*").from(Self.table).orderBy("name").all(decoding: Job.self)
    }

    func job(_ name: String) async throws -> Job? {
        try await sql.select().column("*").from(Self.table).where("name", .equal, SQLBind(name)).first(decoding: Job.self)
    }
}
