import Fluent
import Foundation
import MoeenSecrets

/// Another key rotation holds the rotation lease; names it so the operator knows what to wait for.
struct RotationInProgress: Error, CustomStringConvertible, Sendable {
    let runID: UUID
    let target: String
    let owner: String
    let startedAt: Date
    let leaseExpiresAt: Date
    let rowsDone: Int
    let rowsTotal: Int

    init(_ run: KeyRotation, leaseExpiresAt: Date) {
        runID = run.id ?? UUID()
        target = run.targetLabel
        owner = run.claimedBy ?? "an unknown process"
        startedAt = run.startedAt
        self.leaseExpiresAt = leaseExpiresAt
        rowsDone = run.rowsDone
        rowsTotal = run.rowsTotal
    }

    var description: String {
        "another key rotation is running: run \(runID) to \(target), started \(startedAt.formatted(.iso8601)) by \(owner), "
            + "\(rowsDone)/\(rowsTotal) rows done; wait for it to finish (if its process died, another run may take over "
            + "once its lease ends at \(leaseExpiresAt.formatted(.iso8601)))"
    }
}

/// This process no longer holds its run: it stalled past its lease and another run took over.
struct RotationLeaseLost: Error, CustomStringConvertible, Sendable {
    let runID: UUID

    var description: String {
        "key rotation run \(runID) was taken over by another process (this one stalled past its lease); "
            + "that process carries on with the remaining rows"
    }
}

/// Gives one `key_rotations` run at a time to one process, across processes and machines sharing the database.
///
/// The database allows a single `running` row (a unique partial index). The process that set it `running`
/// writes its owner token and a lease end into it and renews the lease as it works; every update of the run
/// is conditional on still being its owner. A run whose lease ran out (its process died or stalled) can be
/// taken over by exactly one other process (a conditional update on the previous owner). Works the same on
/// SQLite and PostgreSQL.
struct RotationClaim: Sendable {
    let db: any Database
    /// Unique to this claim: host, process id and a random part.
    let owner: String
    let lease: Duration

    init(db: any Database, lease: Duration = .seconds(120)) {
        self.db = db
        self.owner = Self.makeOwner()
        self.lease = lease
    }

    static func makeOwner() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown-host"
        return "\(host) pid \(ProcessInfo.processInfo.processIdentifier) #\(UUID().uuidString.prefix(8).lowercased())"
    }

    private var leaseSeconds: TimeInterval {
        TimeInterval(lease.components.seconds) + TimeInterval(lease.components.attoseconds) / 1e18
    }

    /// The run holding the lease now, if any (a `running` run whose lease has not ended).
    static func live(on db: any Database, at now: Date = Date()) async throws -> RotationInProgress? {
        guard let running = try await KeyRotation.query(on: db).filter(\.$status == "running").first(),
              let expires = running.leaseExpiresAt, expires > now
        else { return nil }
        return RotationInProgress(running, leaseExpiresAt: expires)
    }

    /// Claims the run to `target`: resumes an unfinished one (abandoned by a dead process, or failed), or
    /// starts a new one (`rowsTotal` left at 0 for the caller to count).
    /// - Throws: `RotationInProgress` when another process holds the lease.
    func acquire(target: KeyReference, reencrypt: Bool) async throws -> (run: KeyRotation, resumed: Bool) {
        for _ in 0..<10 {
            let now = Date()
            let until = now.addingTimeInterval(leaseSeconds)
            if let running = try await KeyRotation.query(on: db).filter(\.$status == "running").first() {
                if let expires = running.leaseExpiresAt, expires > now {
                    throw RotationInProgress(running, leaseExpiresAt: expires)
                }
                // Abandoned: take it over. Of several takers only one matches the previous owner.
                let id = try running.requireID()
                try await KeyRotation.query(on: db)
                    .filter(\.$id == id)
                    .filter(\.$status == "running")
                    .filter(\.$claimedBy == running.claimedBy)
                    .group(.or) { $0.filter(\.$leaseExpiresAt == nil).filter(\.$leaseExpiresAt <= now) }
                    .set(\.$claimedBy, to: owner)
                    .set(\.$leaseExpiresAt, to: until)
                    .update()
                guard let taken = try await owned(id) else { continue }
                if Self.matches(taken, target: target, reencrypt: reencrypt) { return (taken, true) }
                try await finish(taken, status: "failed", error: "abandoned by its process; superseded by a rotation to \(target)")
                continue
            }
            if let failed = try await KeyRotation.query(on: db)
                .filter(\.$status == "failed")
                .filter(\.$provider == target.provider)
                .filter(\.$targetKeyID == target.keyID)
                .filter(\.$targetKeyVersion == target.version)
                .filter(\.$reencrypt == reencrypt)
                .sort(\.$startedAt, .descending)
                .first()
            {
                let id = try failed.requireID()
                do {
                    try await KeyRotation.query(on: db)
                        .filter(\.$id == id)
                        .filter(\.$status == "failed")
                        .set(\.$status, to: "running")
                        .set(\.$errorMessage, to: nil)
                        .set(\.$claimedBy, to: owner)
                        .set(\.$leaseExpiresAt, to: until)
                        .update()
                } catch let error as any DatabaseError where error.isConstraintFailure {
                    continue  // another run became `running` first
                }
                if let resumed = try await owned(id) { return (resumed, true) }
                continue
            }
            let run = KeyRotation()
            run.provider = target.provider
            run.targetKeyID = target.keyID
            run.targetKeyVersion = target.version
            run.reencrypt = reencrypt
            run.status = "running"
            run.rowsDone = 0
            run.rowsTotal = 0
            run.startedAt = now
            run.claimedBy = owner
            run.leaseExpiresAt = until
            do {
                try await run.create(on: db)
            } catch let error as any DatabaseError where error.isConstraintFailure {
                continue  // another run became `running` first
            }
            return (run, false)
        }
        if let live = try await Self.live(on: db) { throw live }
        throw SecretsError.configuration("could not claim a key rotation run: other runs kept starting; try again")
    }

    /// Saves the run's progress and extends the lease.
    /// - Throws: `RotationLeaseLost` when another process took the run over.
    func checkpoint(_ run: KeyRotation) async throws {
        let id = try run.requireID()
        try await KeyRotation.query(on: db)
            .filter(\.$id == id)
            .filter(\.$claimedBy == owner)
            .set(\.$rowsDone, to: run.rowsDone)
            .set(\.$rowsTotal, to: run.rowsTotal)
            .set(\.$leaseExpiresAt, to: Date().addingTimeInterval(leaseSeconds))
            .update()
        guard try await owned(id) != nil else { throw RotationLeaseLost(runID: id) }
    }

    /// Ends this process's hold on the run: `completed` or `failed` (with the reason), or, with status
    /// `running`, paused (the lease is released at once, so the next run resumes it).
    func finish(_ run: KeyRotation, status: String, error: String? = nil) async throws {
        let id = try run.requireID()
        let query = KeyRotation.query(on: db)
            .filter(\.$id == id)
            .filter(\.$claimedBy == owner)
            .set(\.$status, to: status)
            .set(\.$rowsDone, to: run.rowsDone)
            .set(\.$rowsTotal, to: run.rowsTotal)
            .set(\.$errorMessage, to: error.map { String($0.prefix(1000)) })
            .set(\.$claimedBy, to: nil)
            .set(\.$leaseExpiresAt, to: nil)
        if status == "completed" { query.set(\.$finishedAt, to: Date()) }
        try await query.update()
        run.status = status
        run.errorMessage = error
        run.claimedBy = nil
        run.leaseExpiresAt = nil
        if status == "completed" { run.finishedAt = Date() }
    }

    /// The run, if this claim still owns it.
    private func owned(_ id: UUID) async throws -> KeyRotation? {
        guard let run = try await KeyRotation.find(id, on: db), run.claimedBy == owner, run.status == "running" else { return nil }
        return run
    }

    private static func matches(_ run: KeyRotation, target: KeyReference, reencrypt: Bool) -> Bool {
        run.provider == target.provider && run.targetKeyID == target.keyID && run.targetKeyVersion == target.version
            && run.reencrypt == reencrypt
    }
}
