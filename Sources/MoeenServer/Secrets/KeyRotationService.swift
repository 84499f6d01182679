import Crypto
import Fluent
import Foundation
import Logging
import MoeenCore
import MoeenSecrets
import SQLKit

/// Key status, online rotation and retirement (`moeen keys status`, `moeen keys rotate`, `moeen keys retire`).
///
/// Rotation re-wraps every row's data key under the target key (the data keys and the sealed settings stay
/// as they are); with `reencrypt`, every row gets a fresh data key and its settings are sealed again. It
/// works in small batches while the service keeps answering. Only one rotation runs at a time across
/// processes (`RotationClaim`); a run that stops part-way is resumed by the next run to the same key.
/// A re-wrap is a conditional update: it never overwrites a data key that a concurrent re-encryption or a
/// save of new secrets has just replaced. Rows whose data keys no configured key opens are skipped and
/// reported (their secrets must be entered again; see `moeen keys status`).
///
/// Running servers need no restart: with a local key file they reload it when a data key names a version
/// they lack, and before wrapping (see `LocalKeyProvider`); Vault names the latest version on every
/// `currentKey()` and decrypts any version it still keeps; AWS KMS keeps all its key material under one key
/// id (recorded as version 1) and decrypts with the right one itself.
struct KeyRotationService {
    let db: any Database
    let secrets: IntegrationSecrets
    let logger: Logger
    /// How long a run holds its claim without renewing it.
    var lease: Duration = .seconds(120)

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

    /// A row whose stored secrets no configured key opens.
    struct UnreadableRow: Sendable, Equatable {
        let publicID: String
        let name: String
        /// The key that wrapped its data key, e.g. `local:ab12cd34 v1`.
        let key: String
        let reason: String
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

    /// Every row whose stored secrets cannot be opened with the configured keys (each is opened in turn).
    /// - Throws: when the key provider cannot be reached (then nothing can be said about any row).
    func unreadableRows() async throws -> [UnreadableRow] {
        var found: [UnreadableRow] = []
        let records = try await IntegrationDataKey.query(on: db).all()
        let labels = Dictionary(records.map { ($0.$integration.id, "\($0.keyID) v\($0.keyVersion)") }, uniquingKeysWith: { first, _ in first })
        for row in try await IntegrationConfig.query(on: db).sort(\.$publicID).all() {
            guard let reason = try await secrets.unreadableReason(of: row, on: db) else { continue }
            let label = row.id.flatMap { labels[$0] } ?? "none"
            found.append(UnreadableRow(publicID: row.publicID, name: row.name, key: label, reason: reason.description))
        }
        return found
    }

    /// Runs (or resumes) a rotation to `target` (default: the provider's current key).
    /// - Parameters:
    ///   - prepare: runs once the run is claimed and before any row is touched (the local key file gets its
    ///     new version there, so nothing is written unless this process may rotate).
    ///   - stopAfter: stop after this many rows, leaving the run resumable (for tests and partial runs).
    ///   - progress: called after each batch with (rows done, rows in all).
    /// - Throws: `RotationInProgress` when another rotation runs.
    @discardableResult
    func rotate(
        to target: KeyReference? = nil, reencrypt: Bool, batchSize: Int = 50, stopAfter: Int? = nil,
        prepare: @Sendable () async throws -> Void = {},
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Report {
        let target = if let target { target } else { try await secrets.engine.currentKey() }
        let claim = RotationClaim(db: db, lease: lease)
        let (run, resumed) = try await claim.acquire(target: target, reencrypt: reencrypt)
        var report = Report(run: run, skipped: [])
        do {
            try await prepare()
            let current = try await secrets.engine.currentKey()
            guard current == target else {
                throw SecretsError.configuration("the key provider's current key is \(current), not the rotation's target \(target)")
            }
            if !resumed {
                run.rowsTotal = try await pendingQuery(current: current, run: run, skipping: []).count()
                try await claim.checkpoint(run)
            }
            logger.notice(
                resumed ? "key rotation resumed" : "key rotation started",
                metadata: ["run": "\(run.id?.uuidString ?? "")", "key": "\(target)", "reencrypt": "\(reencrypt)", "owner": .string(claim.owner)])
            var skipped: [UUID: UnreadableRow] = [:]
            var processedThisRun = 0
            var lastRenewal = ContinuousClock.now
            progress(run.rowsDone, run.rowsTotal)
            while true {
                let batch = try await pendingQuery(current: current, run: run, skipping: Set(skipped.keys))
                    .sort(\.$id).limit(batchSize).all()
                if batch.isEmpty { break }
                for record in batch {
                    if let stopAfter, processedThisRun >= stopAfter {
                        try await claim.finish(run, status: "running")
                        logger.notice("key rotation paused", metadata: ["done": "\(run.rowsDone)", "total": "\(run.rowsTotal)"])
                        return report
                    }
                    if ContinuousClock.now - lastRenewal > lease / 3 {
                        try await claim.checkpoint(run)
                        lastRenewal = .now
                    }
                    do {
                        if reencrypt {
                            try await reencryptRow(record)
                        } else {
                            try await rewrap(record, current: current)
                        }
                    } catch let error as SecretsError where error.meansUnreadableSecrets {
                        let unreadable = try await describe(record, error)
                        skipped[try record.requireID()] = unreadable
                        logger.warning(
                            "key rotation skipped a row whose data key cannot be opened",
                            metadata: ["integration": .string(unreadable.publicID), "key": .string(unreadable.key)])
                        continue
                    }
                    processedThisRun += 1
                    run.rowsDone += 1
                }
                run.rowsTotal = max(run.rowsTotal, run.rowsDone + skipped.count)
                try await claim.checkpoint(run)
                lastRenewal = .now
                progress(run.rowsDone, run.rowsTotal)
            }
            report.skipped = skipped.values.sorted { $0.publicID < $1.publicID }
            let note = report.skipped.isEmpty ? nil
                : "\(report.skipped.count) rows skipped: their data keys cannot be opened with the configured keys "
                    + "(\(report.skipped.map(\.publicID).joined(separator: ", "))); enter their secrets again"
            try await claim.finish(run, status: "completed", error: note)
            logger.notice("key rotation completed", metadata: ["rows": "\(run.rowsDone)", "skipped": "\(report.skipped.count)", "key": "\(target)"])
            return report
        } catch let error as RotationLeaseLost {
            throw error
        } catch {
            try? await claim.finish(run, status: "failed", error: String(describing: error))
            throw error
        }
    }

    /// What a rotation did.
    struct Report: Sendable {
        let run: KeyRotation
        /// Rows left as they were because their data keys do not open.
        var skipped: [UnreadableRow]
    }

    private func pendingQuery(current: KeyReference, run: KeyRotation, skipping: Set<UUID>) -> QueryBuilder<IntegrationDataKey> {
        let query = IntegrationDataKey.query(on: db)
        if run.reencrypt {
            // Rows not yet given a fresh data key by this run (a save of new secrets counts: it gives one too).
            query.filter(\.$updatedAt < run.startedAt)
        } else {
            query.group(.or) { group in
                group.filter(\.$provider != current.provider)
                group.filter(\.$keyID != current.keyID)
                group.filter(\.$keyVersion != current.version)
            }
        }
        if !skipping.isEmpty { query.filter(\.$id !~ Array(skipping)) }
        return query
    }

    /// Wraps the same data key under the current key; the sealed settings do not change. The stored data key
    /// is replaced only if it is still the one read: a concurrent re-encryption or save that replaced it
    /// meanwhile wins (its new key is left alone; if it is not under the current key yet, a later batch takes it).
    private func rewrap(_ record: IntegrationDataKey, current: KeyReference) async throws {
        let id = try record.requireID()
        guard let wrapped = record.wrapped else {
            throw SecretsError.decryptionFailed(integration: record.$integration.id.uuidString, keyID: record.keyID, reason: "the stored data key is not base64")
        }
        let rewrapped = try await secrets.engine.rewrap(wrapped, current: current)
        guard rewrapped != wrapped else { return }
        let stored = Data(rewrapped.ciphertext).base64EncodedString()
        try await IntegrationDataKey.query(on: db)
            .filter(\.$id == id)
            .filter(\.$wrappedKey == record.wrappedKey)
            .set(\.$provider, to: rewrapped.provider)
            .set(\.$keyID, to: rewrapped.keyID)
            .set(\.$keyVersion, to: rewrapped.keyVersion)
            .set(\.$wrappedKey, to: stored)
            .set(\.$updatedAt, to: Date())
            .update()
    }

    /// Gives the row a fresh data key and seals its settings again, in one transaction with the row locked
    /// (on PostgreSQL; SQLite has one writer at a time). The data key is replaced only if it is still the
    /// one the settings were opened with.
    private func reencryptRow(_ record: IntegrationDataKey) async throws {
        do {
            try await reencryptRowOnce(record)
        } catch is ReencryptRaced {
            // A save gave the row a fresh data key meanwhile: that is what this run wanted for it.
            logger.debug("key rotation: a row got a fresh data key from a save meanwhile", metadata: ["row": "\(record.$integration.id)"])
        }
    }

    private func reencryptRowOnce(_ record: IntegrationDataKey) async throws {
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
            let stored = Data(newWrapped.ciphertext).base64EncodedString()
            try await IntegrationDataKey.query(on: db)
                .filter(\.$id == freshRecord.requireID())
                .filter(\.$wrappedKey == freshRecord.wrappedKey)
                .set(\.$provider, to: newWrapped.provider)
                .set(\.$keyID, to: newWrapped.keyID)
                .set(\.$keyVersion, to: newWrapped.keyVersion)
                .set(\.$wrappedKey, to: stored)
                .set(\.$updatedAt, to: Date())
                .update()
            guard try await IntegrationDataKey.find(record.id, on: db)?.wrappedKey == stored else {
                // Replaced meanwhile: undo the re-sealing (the transaction rolls back) and leave the newer key.
                throw ReencryptRaced()
            }
            await secrets.engine.forget(wrapped)
        }
    }

    private struct ReencryptRaced: Error {}

    private func describe(_ record: IntegrationDataKey, _ error: SecretsError) async throws -> UnreadableRow {
        let row = try await IntegrationConfig.find(record.$integration.id, on: db)
        return UnreadableRow(
            publicID: row?.publicID ?? record.$integration.id.uuidString, name: row?.name ?? "",
            key: "\(record.keyID) v\(record.keyVersion)", reason: error.description)
    }

    // MARK: Retiring

    /// How many rows' data keys are wrapped by `key` at version `version` or older (for Vault, where
    /// retiring a version retires every older one too) or exactly at `version`.
    func rows(wrappedBy keyID: String, provider: String, version: Int, orOlder: Bool) async throws -> Int {
        let query = IntegrationDataKey.query(on: db)
            .filter(\.$provider == provider)
            .filter(\.$keyID == keyID)
        if orOlder {
            query.filter(\.$keyVersion <= version)
        } else {
            query.filter(\.$keyVersion == version)
        }
        return try await query.count()
    }
}
