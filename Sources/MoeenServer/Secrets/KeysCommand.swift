import Fluent
import Foundation
import MoeenSecrets
import Vapor

/// `moeen keys status`, `moeen keys rotate [--reencrypt]` and `moeen keys retire <version>`.
struct KeysCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] {
        ["status": KeysStatusCommand(), "rotate": KeysRotateCommand(), "retire": KeysRetireCommand()]
    }
    var help: String { "Key provider status, online key rotation and retiring old key versions." }
}

struct KeysStatusCommand: AsyncCommand {
    struct Signature: CommandSignature {}

    var help: String {
        "Key provider, key ids and versions in use, rows per version, and the rows no configured key can open."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let service = KeyRotationService(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
        let status = try await service.status()
        context.console.print("key provider: \(status.current.provider)")
        context.console.print("current key:  \(status.current)")
        let rows = status.versions.map { [$0.provider, $0.keyID, "v\($0.version)", "\($0.rows)", $0.keyID == status.current.keyID && $0.version == status.current.version ? "current" : "older"] }
        for line in TextTable.render(header: ["PROVIDER", "KEY ID", "VERSION", "ROWS", ""], rows: rows) { context.console.print(line) }
        if let last = status.lastRotation {
            let finished = last.finishedAt.map { $0.formatted(.iso8601) } ?? "not finished"
            context.console.print("last rotation: \(last.status), \(last.rowsDone)/\(last.rowsTotal) rows to \(last.targetKeyID) v\(last.targetKeyVersion), started \(last.startedAt.formatted(.iso8601)), finished \(finished)")
        } else {
            context.console.print("last rotation: never")
        }
        let unreadable = try await service.unreadableRows()
        if unreadable.isEmpty {
            context.console.print("rows no configured key can open: none")
        } else {
            context.console.print("rows no configured key can open: \(unreadable.count) (enter their secrets again to replace them)")
            let table = unreadable.map { [$0.publicID, $0.name, $0.key] }
            for line in TextTable.render(header: ["PUBLIC ID", "NAME", "KEY ID"], rows: table) { context.console.print(line) }
        }
    }
}

struct KeysRotateCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Flag(name: "reencrypt", help: "Also give every row a fresh data key and seal its settings again.")
        var reencrypt: Bool
        @Option(name: "batch-size", help: "Rows per batch (default 50).")
        var batchSize: Int?
    }

    var help: String {
        "Re-wraps every data key under the current master key version, online and resumably; one rotation at a time. "
            + "With a local key file, first adds a new key version to it (durably; running servers pick it up)."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let secrets = try app.integrationSecrets
        let service = KeyRotationService(db: app.db, secrets: secrets, logger: app.logger)
        let plan = try await RotationPlan.make(secrets: secrets, db: app.db, reencrypt: signature.reencrypt)
        if let note = plan.note { context.console.print(note) }
        context.console.print("rotating to \(plan.target)\(signature.reencrypt ? " with fresh data keys" : "")…")
        let interactive = isatty(STDOUT_FILENO) == 1
        let bar = context.console.progressBar(title: "rows")
        let report: KeyRotationService.Report
        do {
            report = try await service.rotate(
                to: plan.target, reencrypt: signature.reencrypt, batchSize: max(1, signature.batchSize ?? 50),
                prepare: plan.prepare
            ) { done, total in
                if interactive {
                    bar.activity.currentProgress = total == 0 ? 1 : Double(done) / Double(total)
                } else {
                    context.console.print("\(done)/\(total) rows")
                }
            }
        } catch let error as RotationInProgress {
            throw CommandFailure("\(error)")
        } catch {
            if interactive { bar.fail() }
            throw CommandFailure("rotation stopped: \(error); run it again to resume")
        }
        if interactive { bar.succeed() }
        if let added = plan.addedVersion { context.console.print(added) }
        context.console.print("rotation \(report.run.status): \(report.run.rowsDone) rows under \(plan.target)")
        if !report.skipped.isEmpty {
            context.console.warning("\(report.skipped.count) rows were skipped: no configured key opens their data keys; enter their secrets again")
            for row in report.skipped { context.console.warning("  \(row.publicID) \(row.name) (\(row.key))") }
        }
    }
}

/// What `moeen keys rotate` rotates to, and what it does first once it holds the rotation.
struct RotationPlan: Sendable {
    let target: KeyReference
    /// Runs after the run is claimed, before any row is touched.
    let prepare: @Sendable () async throws -> Void
    /// Said before starting.
    let note: String?
    /// Said at the end, when a version was added to the key file.
    let addedVersion: String?

    /// With a local key file: a new version (written only once the run is claimed), unless an unfinished run
    /// to the file's current version is waiting to be resumed. Otherwise: the provider's current key.
    static func make(secrets: IntegrationSecrets, db: any Database, reencrypt: Bool) async throws -> RotationPlan {
        let current = try await secrets.engine.currentKey()
        guard let local = secrets.engine.provider as? LocalKeyProvider else {
            return RotationPlan(target: current, prepare: {}, note: nil, addedVersion: nil)
        }
        guard let file = local.keyFile else {
            return RotationPlan(
                target: current, prepare: {},
                note: "MOEEN_MASTER_KEY is set in the environment: to rotate to a new key, add the new version to it "
                    + "(e.g. \"v2:NEW,v1:OLD\"), restart, then run this again. Re-wrapping under \(current) now.",
                addedVersion: nil)
        }
        let unfinished = try await KeyRotation.query(on: db)
            .filter(\.$status != "completed")
            .filter(\.$provider == current.provider)
            .filter(\.$targetKeyID == current.keyID)
            .filter(\.$targetKeyVersion == current.version)
            .filter(\.$reencrypt == reencrypt)
            .first()
        if unfinished != nil {
            return RotationPlan(
                target: current, prepare: {}, note: "resuming the unfinished rotation to \(current)", addedVersion: nil)
        }
        let pending = try LocalKeyring.prepareNewVersion(for: file)
        return RotationPlan(
            target: pending.reference(provider: LocalKeyProvider.kind),
            prepare: {
                try LocalKeyring.add(pending, to: file)
                local.reloadIfChanged()
            },
            note: nil,
            addedVersion: "added key version v\(pending.version) (\(pending.keyID)) to \(file.path)")
    }
}

struct KeysRetireCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "version", help: "The old key version to retire, e.g. 1 (or v1).")
        var version: String
    }

    var help: String {
        "Drops an old master key version once no row's data key uses it; never the current one."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let text = signature.version.lowercased().hasPrefix("v") ? String(signature.version.dropFirst()) : signature.version
        guard let version = Int(text), version >= 1 else {
            throw CommandFailure("version must be a key version number like 1 or v1")
        }
        let app = context.application
        let retirement = KeyRetirement(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
        do {
            let outcome = try await retirement.retire(version: version)
            context.console.print(outcome.message)
        } catch let refused as KeyRetirement.Refused {
            throw CommandFailure("not retired: \(refused)")
        }
    }
}
