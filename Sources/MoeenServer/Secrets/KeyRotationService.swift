import Crypto
import Fluent
import Foundation
import Logging
import MoeenSecrets
import SQLKit

/// Key status and online rotation (`moeen keys status`, `moeen keys rotate`).
///
/// Rotation re-wraps every row's data key under the key provider's current key (the data keys and the
/// sealed settings stay as they are); with `reencrypt`, every row gets a fresh data key and its settings are
/// sealed again. It works in small batches, one row per transaction, while the service keeps answering; a
/// run that stops part-way is resumed by the next run, which picks up exactly the rows still to do.
struct KeyRotationService {
    let db: any Database
    let secrets: IntegrationSecrets
    let logger: Logger

    struct VersionCount: Sendable, Equatable {
        let provider: String
        let keyID: String
        let version: Int
        let rows: Int
    }

    struct Status: Sendable {
        let current: KeyReference
        let versions: [VersionCount]
        let lastRotation: KeyRotation?
    }

    func status() async throws -> Status {
        let current = try await secrets.engine.currentKey()
        let keys = try await IntegrationDataKey.query(on: db).all()
        var counts: [String: VersionCount] = [:]
        for key in keys {
            let name = "\(key.provider)|\(key.keyID)|\(key.keyVersion)"
            let previous = counts[name]?.rows ?? 0
            counts[name] = VersionCount(provider: key.provider, keyID: key.keyID, version: key.keyVersion, rows: previous + 1)
        }
        let last = try await KeyRotation.query(on: db).sort(\.$startedAt, .descending).first()
        return Status(
            current: current,
            versions: counts.values.sorted { ($0.keyID, $0.version) < ($1.keyID, $1.version) },
            lastRotation: last
        )
    }

    /// Runs (or resumes) a rotation to the current key.
    /// - Parameters:
    ///   - stopAfter: stop after this many rows, leaving the run resumable (for tests and partial runs).
    ///   - progress: called after each batch with (rows done, rows in all).
    @discardableResult
    func rotate(
        reencrypt: Bool, batchSize: Int = 50, stopAfter: Int? = nil,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> KeyRotation {
        let current = try await secrets.engine.currentKey()
        let run = try await resumableRun(current: current, reencrypt: reencrypt)
        var processedThisRun = 0
        progress(run.rowsDone, run.rowsTotal)
        do {
            while true {
                let batch = try await pendingKeys(current: current, run: run, limit: batchSize)
                if batch.isEmpty { break }
                for record in batch {
                    if let stopAfter, processedThisRun >= stopAfter {
                        logger.notice("key rotation paused", metadata: ["done": "\(run.rowsDone)", "total": "\(run.rowsTotal)"])
                        return run
                    }
                    if reencrypt {
                        try await reencryptRow(record)
                    } else {
                        try await rewrap(record, current: current)
                    }
                    processedThisRun += 1
                    run.rowsDone += 1
                }
                run.rowsTotal = max(run.rowsTotal, run.rowsDone)
                try await run.save(on: db)
                progress(run.rowsDone, run.rowsTotal)
            }
            run.status = "completed"
            run.finishedAt = Date()
            run.rowsTotal = max(run.rowsTotal, run.rowsDone)
            try await run.save(on: db)
            logger.notice("key rotation completed", metadata: ["rows": "\(run.rowsDone)", "key": "\(current)"])
            return run
        } catch {
            run.status = "failed"
            run.errorMessage = String(describing: error).prefix(1000).description
            try? await run.save(on: db)
            throw error
        }
    }

    /// The unfinished run to the same key (to resume), or a new one.
    private func resumableRun(current: KeyReference, reencrypt: Bool) async throws -> KeyRotation {
        if let open = try await KeyRotation.query(on: db)
            .filter(\.$status != "completed")
            .filter(\.$provider == current.provider)
            .filter(\.$targetKeyID == current.keyID)
            .filter(\.$targetKeyVersion == current.version)
            .filter(\.$reencrypt == reencrypt)
            .sort(\.$startedAt, .descending)
            .first()
        {
            open.status = "running"
            open.errorMessage = nil
            try await open.save(on: db)
            return open
        }
        let run = KeyRotation()
        run.provider = current.provider
        run.targetKeyID = current.keyID
        run.targetKeyVersion = current.version
        run.reencrypt = reencrypt
        run.status = "running"
        run.rowsDone = 0
        run.startedAt = Date()
        run.rowsTotal = 0
        try await run.create(on: db)
        run.rowsTotal = try await pendingQuery(current: current, run: run).count()
        try await run.save(on: db)
        return run
    }

    private func pendingQuery(current: KeyReference, run: KeyRotation) -> QueryBuilder<IntegrationDataKey> {
        let query = IntegrationDataKey.query(on: db)
        if run.reencrypt {
            // Rows not yet given a fresh data key by this run.
            query.filter(\.$updatedAt < run.startedAt)
        } else {
            query.group(.or) { group in
                group.filter(\.$provider != current.provider)
                group.filter(\.$keyID != current.keyID)
                group.filter(\.$keyVersion != current.version)
            }
        }
        return query
    }

    private func pendingKeys(current: KeyReference, run: KeyRotation, limit: Int) async throws -> [IntegrationDataKey] {
        try await pendingQuery(current: current, run: run).sort(\.$id).limit(limit).all()
    }

    /// Wraps the same data key under the current key; the sealed settings do not change.
    private func rewrap(_ record: IntegrationDataKey, current: KeyReference) async throws {
        guard let wrapped = record.wrapped else {
            throw SecretsError.decryptionFailed(integration: record.$integration.id.uuidString, keyID: record.keyID, reason: "stored data key is not base64")
        }
        let rewrapped = try await secrets.engine.rewrap(wrapped)
        record.store(rewrapped)
        try await record.save(on: db)
    }

    /// Gives the row a fresh data key and seals its settings again, in one transaction with the row locked.
    private func reencryptRow(_ record: IntegrationDataKey) async throws {
        let rowID = record.$integration.id
        try await db.transaction { db in
            guard let config = try await IntegrationConfig.lockedConfig(rowID, on: db),
                  let row = try await IntegrationConfig.find(rowID, on: db),
                  let freshRecord = try await IntegrationDataKey.find(record.id, on: db),
                  let wrapped = freshRecord.wrapped
            else { return }
            let oldKey = try await secrets.engine.unwrap(wrapped, integration: row.publicID)
            let (newKey, newWrapped) = try await secrets.engine.newDataKey()
            var values = StoredConfig(config).values
            for (field, value) in values {
                guard let sealed = value["sealed"]?.stringValue else { continue }
                let plaintext = try SecretsEngine.open(sealed, rowID: rowID, field: field, key: oldKey, integration: row.publicID, keyID: wrapped.label)
                values[field] = IntegrationSecrets.entry(sealed: try SecretsEngine.seal(plaintext, rowID: rowID, field: field, key: newKey), plaintext: plaintext)
            }
            row.config = .object(values)
            try await row.save(on: db)
            freshRecord.store(newWrapped)
            freshRecord.updatedAt = Date()
            try await freshRecord.save(on: db)
        }
    }
}
