import Fluent
import Foundation
import MoeenSecrets
import Vapor

/// `moeen keys status` and `moeen keys rotate [--reencrypt]`.
struct KeysCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] { ["status": KeysStatusCommand(), "rotate": KeysRotateCommand()] }
    var help: String { "Key provider status and online key rotation." }
}

struct KeysStatusCommand: AsyncCommand {
    struct Signature: CommandSignature {}

    var help: String { "Key provider, key ids and versions in use, rows per version." }

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
        "Re-wraps every data key under the current master key version, online and resumably. With the local key file, first adds a new key version to it."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let config = app.moeenConfiguration
        var secrets = try app.integrationSecrets
        if config.keyProvider == .local, let file = KeyFiles.localKeyFile(config: config, workingDirectory: app.directory.workingDirectory) {
            let (version, keyID) = try LocalKeyring.generateNewVersion(appendingTo: file)
            context.console.print("added key version v\(version) (\(keyID)) to \(file.path)")
            try await ServicesSetup.configure(app, config: config)
            secrets = try app.integrationSecrets
        } else if config.keyProvider == .local {
            context.console.print("MOEEN_MASTER_KEY is set in the environment: add the new version to it (e.g. \"v2:NEW,v1:OLD\"), restart, then run this again.")
        }
        let service = KeyRotationService(db: app.db, secrets: secrets, logger: app.logger)
        let current = try await secrets.engine.currentKey()
        context.console.print("rotating to \(current)\(signature.reencrypt ? " with fresh data keys" : "")…")
        let interactive = isatty(STDOUT_FILENO) == 1
        let bar = context.console.progressBar(title: "rows")
        if interactive { bar.start() }
        let run: KeyRotation
        do {
            run = try await service.rotate(reencrypt: signature.reencrypt, batchSize: max(1, signature.batchSize ?? 50)) { done, total in
                if interactive {
                    bar.activity.currentProgress = total == 0 ? 1 : Double(done) / Double(total)
                } else {
                    context.console.print("\(done)/\(total) rows")
                }
            }
        } catch {
            if interactive { bar.fail() }
            throw CommandFailure("rotation stopped: \(error); run it again to resume")
        }
        if interactive { bar.succeed() }
        context.console.print("rotation \(run.status): \(run.rowsDone) rows under \(current)")
    }
}

enum KeyFiles {
    /// The local key file rotation may add a version to: `MOEEN_MASTER_KEY_FILE`, or the development key.
    static func localKeyFile(config: MoeenConfiguration, workingDirectory: String) -> URL? {
        let base = URL(fileURLWithPath: workingDirectory)
        if let path = config.environment["MOEEN_MASTER_KEY_FILE"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: base).standardizedFileURL
        }
        if config.environment["MOEEN_MASTER_KEY"]?.isEmpty == false { return nil }
        let development = KeyProviderFactory.developmentKeyFile(workingDirectory: base)
        return FileManager.default.fileExists(atPath: development.path) && !config.isProduction ? development : nil
    }
}
