import Fluent
import Foundation
import Logging
import MoeenSecrets

/// `moeen keys retire <version>`: drops an old master key version once no data key is wrapped by it.
///
/// - `local` with a key file: the version is removed from the file (durably, under the file's lock);
///   running processes stop using it the next time they look at the file. With `MOEEN_MASTER_KEY`, the
///   check is done and the operator is told which entry to remove.
/// - `vault`: Vault keeps the versions; once no row uses the version (or an older one), the operator is
///   told how to raise the transit key's `min_decryption_version`.
/// - `aws-kms`: KMS keeps every version of its key material itself; there is nothing to retire.
///
/// Never retires the current version, and refuses while a rotation runs or while any row still uses it,
/// naming how many.
struct KeyRetirement {
    let db: any Database
    let secrets: IntegrationSecrets
    let logger: Logger

    /// Why a version was not retired.
    struct Refused: Error, CustomStringConvertible, Sendable {
        let description: String
    }

    /// What was done, for the operator.
    struct Outcome: Sendable, Equatable {
        /// The key that was (or may now be) retired, e.g. `local:ab12cd34 v1`.
        let key: String
        /// Whether the version was removed from the key file (false: the operator finishes the job).
        let removed: Bool
        let message: String
    }

    func retire(version: Int) async throws -> Outcome {
        let provider = secrets.engine.provider
        if let local = provider as? LocalKeyProvider { local.reloadIfChanged() }
        let current = try await secrets.engine.currentKey()
        if let live = try await RotationClaim.live(on: db) {
            throw Refused(description: "\(live); retire key versions after it has finished")
        }
        let rotation = KeyRotationService(db: db, secrets: secrets, logger: logger)
        switch provider {
        case let local as LocalKeyProvider:
            guard version != current.version else {
                throw Refused(description: "v\(version) (\(current.keyID)) is the current key version; it is never retired "
                    + "(`moeen keys rotate` makes a newer one current)")
            }
            let keyring = local.keyring
            guard let entry = keyring.entries.first(where: { $0.version == version }) else {
                let present = keyring.versions.map { "v\($0)" }.joined(separator: ", ")
                throw Refused(description: "the local keyring has no v\(version) (it has \(present))")
            }
            let label = "\(entry.keyID) v\(version)"
            let rows = try await rotation.rows(wrappedBy: entry.keyID, provider: LocalKeyProvider.kind, version: version, orOlder: false)
            guard rows == 0 else { throw Self.stillUsed(label, rows: rows) }
            guard let file = local.keyFile else {
                return Outcome(key: label, removed: false, message: "no data key is wrapped by \(label) any more; remove its entry "
                    + "(v\(version):…) from MOEEN_MASTER_KEY and restart the service to retire it")
            }
            try LocalKeyring.removeVersion(version, from: file)
            local.reloadIfChanged()
            logger.notice("master key version retired", metadata: ["key": .string(label), "file": .string(file.path)])
            return Outcome(key: label, removed: true, message: "retired \(label): removed from \(file.path)")
        case is VaultTransitKeyProvider:
            guard version < current.version else {
                throw Refused(description: "v\(version) of \(current.keyID) is not older than the current v\(current.version); "
                    + "the current version is never retired")
            }
            let label = "\(current.keyID) v\(version)"
            let rows = try await rotation.rows(wrappedBy: current.keyID, provider: VaultTransitKeyProvider.kind, version: version, orOlder: true)
            guard rows == 0 else { throw Self.stillUsed("\(label) (or an older version)", rows: rows) }
            let name = current.keyID.hasPrefix("vault:") ? String(current.keyID.dropFirst(6)) : current.keyID
            return Outcome(key: label, removed: false, message: "no data key is wrapped by \(label) or older any more; Vault keeps "
                + "its key versions, so retire them there: vault write transit/keys/\(name)/config min_decryption_version=\(version + 1)")
        default:
            throw Refused(description: "the \(provider.kind) key provider keeps every version of its key itself "
                + "and picks the right one to decrypt; there is nothing to retire")
        }
    }

    private static func stillUsed(_ label: String, rows: Int) -> Refused {
        Refused(description: "\(label) still wraps the data keys of \(rows) \(rows == 1 ? "row" : "rows"); "
            + "run `moeen keys rotate` first, then retire it")
    }
}
