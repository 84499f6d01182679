import Crypto
import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import MoeenSecrets
import Testing
import Vapor
import VaporTesting

/// Opens once; everyone waiting (and everyone after) goes on.
actor Latch {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// A real local provider whose re-wraps stop at a gate: `entered` opens when the first re-wrap has computed its
/// answer, and the re-wraps go on only once `release` opens. Lets a test act while a rotation is mid-row.
final class GatedProvider: KeyProvider, Sendable {
    let inner: LocalKeyProvider
    let entered = Latch()
    let release = Latch()

    init(keyring: String) throws {
        inner = LocalKeyProvider(keyring: try LocalKeyring(text: keyring, source: "MOEEN_MASTER_KEY"))
    }

    var kind: String { inner.kind }
    func currentKey() async throws -> KeyReference { try await inner.currentKey() }
    func generateDataKey() async throws -> GeneratedDataKey { try await inner.generateDataKey() }
    func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey { try await inner.wrap(key) }
    func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey { try await inner.unwrap(wrapped) }
    func check() async throws { try await inner.check() }
    func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        let result = try await inner.rewrap(wrapped)
        await entered.open()
        await release.wait()
        return result
    }
}

@Suite("Key rotation: one at a time, never overwriting a newer data key, retiring old versions")
struct KeyRotationTests {
    static let oldKey = TestKeys.randomKey()
    static let newKey = TestKeys.randomKey()

    /// Rows created under `v1:oldKey` only.
    static func createRows(_ database: MoeenConfiguration.DatabaseTarget, count: Int) async throws -> (auth: String, ids: [String]) {
        try await withMoeenApp(database: database, customize: { $0.environment["MOEEN_MASTER_KEY"] = "v1:\(oldKey)" }) { app in
            let auth = try await app.bearer(role: .admin)
            var ids: [String] = []
            for index in 0..<count {
                let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                    "integration_type": "tatman", "name": .string("Insurer \(index)"),
                    "config": ["api_url": "https://api.tatman.com.sa", "provider_id": .string("P\(index)"), "api_key": .string("secret-\(index)")],
                ])
                ids.append(try #require(created.json["public_id"] as? String, "\(created.text)"))
            }
            return (auth, ids)
        }
    }

    static let bothKeys: @Sendable (inout MoeenConfiguration) -> Void = { $0.environment["MOEEN_MASTER_KEY"] = "v1:\(oldKey),v2:\(newKey)" }

    @Test("while a rotation runs, a second one fails naming the running run; the first then finishes")
    func oneAtATime() async throws {
        try await withEmptyDatabase { database in
            _ = try await Self.createRows(database.target, count: 3)
            try await withMoeenApp(database: database.target, customize: Self.bothKeys) { app in
                let gated = try GatedProvider(keyring: "v1:\(Self.oldKey),v2:\(Self.newKey)")
                let secrets = IntegrationSecrets(engine: SecretsEngine(provider: gated, logger: app.logger))
                let first = KeyRotationService(db: app.db, secrets: secrets, logger: app.logger)
                let running = Task { try await first.rotate(reencrypt: false, batchSize: 2) }
                await gated.entered.wait()

                let second = KeyRotationService(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
                let runID = try #require(try await KeyRotation.query(on: app.db).filter(\.$status == "running").first()?.id)
                await #expect { try await second.rotate(reencrypt: false) } throws: { error in
                    guard let busy = error as? RotationInProgress else { return false }
                    return busy.runID == runID && busy.description.contains("another key rotation is running")
                        && busy.description.contains(runID.uuidString) && busy.description.contains("pid")
                }
                #expect(try await KeyRotation.query(on: app.db).count() == 1, "the refused rotation left no run behind")

                await gated.release.open()
                let report = try await running.value
                #expect(report.run.status == "completed")
                #expect(report.run.rowsDone == 3)
                let done = try #require(try await KeyRotation.find(runID, on: app.db))
                #expect(done.claimedBy == nil)
                #expect(done.leaseExpiresAt == nil)
                // Now the next rotation may run.
                #expect(try await second.rotate(reencrypt: false).run.status == "completed")
            }
        }
    }

    @Test("a run whose process died (its lease ended) is taken over and resumed by the next rotation")
    func abandonedRunIsResumed() async throws {
        try await withEmptyDatabase { database in
            _ = try await Self.createRows(database.target, count: 4)
            try await withMoeenApp(database: database.target, customize: Self.bothKeys) { app in
                let secrets = try app.integrationSecrets
                let target = try await secrets.engine.currentKey()
                // A process claimed a run and died at once: its lease (zero) is over.
                let dead = RotationClaim(db: app.db, lease: .zero)
                let (abandoned, _) = try await dead.acquire(target: target, reencrypt: false)
                #expect(try await RotationClaim.live(on: app.db, at: Date().addingTimeInterval(1)) == nil)

                let report = try await KeyRotationService(db: app.db, secrets: secrets, logger: app.logger).rotate(reencrypt: false)
                #expect(report.run.id == abandoned.id)
                #expect(report.run.status == "completed")
                #expect(try await KeyRotation.query(on: app.db).count() == 1)
                #expect(try await IntegrationDataKey.query(on: app.db).filter(\.$keyVersion == 1).count() == 0)
                // The dead process, were it to wake, no longer owns the run.
                await #expect(throws: RotationLeaseLost.self) { try await dead.checkpoint(abandoned) }
            }
        }
    }

    @Test("a re-wrap never overwrites a data key that a save of every secret replaced meanwhile")
    func rewrapLosesToConcurrentSave() async throws {
        try await withEmptyDatabase { database in
            let (auth, ids) = try await Self.createRows(database.target, count: 1)
            try await withMoeenApp(database: database.target, customize: Self.bothKeys) { app in
                let gated = try GatedProvider(keyring: "v1:\(Self.oldKey),v2:\(Self.newKey)")
                let service = KeyRotationService(
                    db: app.db, secrets: IntegrationSecrets(engine: SecretsEngine(provider: gated, logger: app.logger)), logger: app.logger)
                let running = Task { try await service.rotate(reencrypt: false) }
                await gated.entered.wait()

                // The rotation has read the row's data key and re-wrapped it; now a save gives the row a new one.
                let saved = try await app.call(.PATCH, "api/integrations/\(ids[0])", auth: auth, body: ["config": ["api_key": "replaced-secret"]])
                #expect(saved.status == .ok, "\(saved.text)")
                let replaced = try #require(try await IntegrationDataKey.query(on: app.db).first())

                await gated.release.open()
                #expect(try await running.value.run.status == "completed")
                let after = try #require(try await IntegrationDataKey.query(on: app.db).first())
                #expect(after.wrappedKey == replaced.wrappedKey, "the save's data key stands")
                let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == ids[0]).first())
                await (try app.integrationSecrets).engine.clearCache()
                #expect(try await app.integrationSecrets.open(row, on: app.db)["api_key"] == "replaced-secret")
            }
        }
    }

    @Test("retire refuses the current version and a version still in use (naming how many rows); after a rotation it drops it from the key file")
    func retire() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moeen-retire-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("master.key")
        try LocalKeyring.generateNewVersion(appendingTo: file)
        let useFile: @Sendable (inout MoeenConfiguration) -> Void = { config in
            config.environment["MOEEN_MASTER_KEY"] = nil
            config.environment["MOEEN_MASTER_KEY_FILE"] = file.path
        }
        try await withMoeenApp(customize: useFile) { app in
            let auth = try await app.bearer(role: .admin)
            for index in 0..<2 {
                let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                    "integration_type": "seha", "name": .string("Seha \(index)"),
                    "config": ["api_url": "https://api.seha.sa", "facility_id": "F1", "api_key": .string("seha-\(index)")],
                ])
                #expect(created.status == .created, "\(created.text)")
            }
            let secrets = try app.integrationSecrets
            let retirement = KeyRetirement(db: app.db, secrets: secrets, logger: app.logger)
            await #expect { _ = try await retirement.retire(version: 1) } throws: { error in
                "\(error)".contains("current key version")
            }

            // An operator adds v2 by hand: v1 still wraps both rows.
            try LocalKeyring.generateNewVersion(appendingTo: file)
            await #expect { _ = try await retirement.retire(version: 1) } throws: { error in
                error is KeyRetirement.Refused && "\(error)".contains("still wraps the data keys of 2 rows")
            }
            #expect(try String(contentsOf: file, encoding: .utf8).contains("v1:"))

            let report = try await KeyRotationService(db: app.db, secrets: secrets, logger: app.logger).rotate(reencrypt: false)
            #expect(report.run.rowsDone == 2)
            let outcome = try await retirement.retire(version: 1)
            #expect(outcome.removed)
            #expect(outcome.message.contains("v1"))
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("v1:"))
            #expect(text.contains("v2:"))
            await #expect { _ = try await retirement.retire(version: 2) } throws: { "\($0)".contains("never retired") }
            // Every row still opens with the key file as it is now.
            await secrets.engine.clearCache()
            for row in try await IntegrationConfig.query(on: app.db).filter(\.$name ~~ ["Seha 0", "Seha 1"]).all() {
                #expect(try await secrets.open(row, on: app.db)["api_key"]?.hasPrefix("seha-") == true)
            }
        }
    }
}
