import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import MoeenSecrets
import ProviderStandIns
import SQLKit
import Testing
import Vapor
import VaporTesting

/// Every row of the tables that could ever hold a secret, as text (PostgreSQL), for grepping.
func databaseText(_ db: any Database) async throws -> String {
    let sql = try #require(db as? any SQLDatabase)
    struct Row: Decodable { let t: String }
    var text = ""
    for table in ["integration_configs", "integration_data_keys", "integration_test_logs", "audit_logs", "integration_health_history"] {
        let rows = try await sql.raw("SELECT row_to_json(x)::text AS t FROM \(ident: table) x").all(decoding: Row.self)
        text += rows.map(\.t).joined(separator: "\n")
    }
    return text
}

/// The SQLite file and its WAL, as bytes.
func sqliteFiles(_ path: String) -> Data {
    var data = Data()
    for suffix in ["", "-wal", "-shm"] {
        if let part = FileManager.default.contents(atPath: path + suffix) { data.append(part) }
    }
    return data
}

@Suite("Secrets")
struct SecretsTests {
    @Test("a sentinel secret written through the API is absent from the database, every answer, the audit log, the test logs and the debug log")
    func sentinelNeverLeaks() async throws {
        let sentinel = "SENTINEL\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
        try await withEmptyDatabase { database in
            try await withStandIn(.whatsapp) { standIn, settings in
                await (standIn as? WhatsAppStandIn)?.state.update { $0.accessToken = sentinel }
                try await withMoeenApp(database: database.target) { app in
                    let auth = try await app.bearer(role: .admin)
                    var answers: [String] = []
                    var config = settings
                    config["access_token"] = sentinel
                    let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                        "integration_type": "whatsapp", "name": "Sentinel", "is_enabled": true,
                        "config": .object(config.mapValues(JSONValue.string)),
                    ])
                    #expect(created.status == .created)
                    answers.append(created.text)
                    let id = try #require(created.json["public_id"] as? String)
                    for (method, path) in [(HTTPMethod.GET, "api/integrations/\(id)"), (.GET, "api/integrations"), (.POST, "api/integrations/\(id)/test"),
                                           (.GET, "api/integrations/\(id)/logs"), (.GET, "api/integrations/\(id)/health")] {
                        let answer = try await app.call(method, path, auth: auth)
                        #expect(answer.status == .ok, "\(path): \(answer.text)")
                        answers.append(answer.text)
                    }
                    // The stored secret really works: the provider accepted it.
                    #expect(answers[3].contains("\"status\":\"success\""), "\(answers[3])")
                    // A failing test whose provider echoes nothing still never shows the secret.
                    answers.append(try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: ["name": "Sentinel 2"]).text)
                    answers.append(try await app.call(.GET, "api/integrations/\(id)", auth: auth).text)

                    for answer in answers { #expect(!answer.contains(sentinel)) }
                    let audits = try await AuditLog.query(on: app.db).all()
                    #expect(!audits.isEmpty)
                    for audit in audits {
                        #expect(!(audit.newValues.map { $0.jsonText() } ?? "").contains(sentinel))
                        #expect(!(audit.oldValues.map { $0.jsonText() } ?? "").contains(sentinel))
                    }
                    let logs = try await IntegrationTestLog.query(on: app.db).all()
                    #expect(!logs.isEmpty)
                    for log in logs {
                        #expect(!(log.requestData.map { $0.jsonText() } ?? "").contains(sentinel))
                        #expect(!(log.responseData.map { $0.jsonText() } ?? "").contains(sentinel))
                    }
                    if case .postgres = database.target {
                        #expect(!(try await databaseText(app.db)).contains(sentinel))
                    }
                }
                if case .sqlite(let path) = database.target {
                    let bytes = sqliteFiles(path)
                    #expect(!bytes.isEmpty)
                    #expect(bytes.range(of: Data(sentinel.utf8)) == nil, "the sentinel is in the SQLite file")
                }
                #expect(!LogCapture.shared.text.contains(sentinel), "the sentinel is in the log")
                #expect(LogCapture.shared.text.contains("integration test"), "the debug log was captured")
            }
        }
    }

    @Test("after a restart with the same key the secret is used; with another key the service stays up and answers a clear decryption error")
    func restartWithKeys() async throws {
        try await withEmptyDatabase { database in
            try await withStandIn(.seha) { _, settings in
                let (auth, id) = try await withMoeenApp(database: database.target) { app in
                    let auth = try await app.bearer(role: .admin)
                    let id = try await TestConnectionTests.create(app, auth: auth, type: .seha, settings: settings)
                    return (auth, id)
                }
                try await withMoeenApp(database: database.target) { app in
                    let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                    #expect(result.json["status"] as? String == "success", "\(result.text)")
                }
                try await withMoeenApp(database: database.target, customize: { $0.environment["MOEEN_MASTER_KEY"] = TestKeys.otherMasterKey }) { app in
                    #expect(try await app.call(.GET, "health", auth: nil).status == .ok)
                    let show = try await app.call(.GET, "api/integrations/\(id)", auth: auth)
                    #expect(show.status == .ok)
                    let result = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                    #expect(result.status == .internalServerError)
                    let message = ((result.json["error"] as? [String: Any])?["message"] as? String) ?? ""
                    #expect((result.json["error"] as? [String: Any])?["code"] as? String == "secret_decryption_failed")
                    #expect(message.contains("local:"), "names the key: \(message)")
                    #expect(!message.contains(settings["api_key"] ?? "-"))
                    #expect(try await app.call(.GET, "ready", auth: nil).status == .ok)
                }
            }
        }
    }

    @Test("a ciphertext copied into another row or another field fails to decrypt")
    func movedCiphertext() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            let a = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "seha", "name": "A", "config": ["api_url": "https://api.seha.sa", "facility_id": "F1", "api_key": "key-of-row-a"],
            ])
            let b = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "tatman", "name": "B", "config": ["api_url": "https://api.tatman.com.sa", "provider_id": "P1", "api_key": "key-of-row-b"],
            ])
            let rowA = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == (a.json["public_id"] as? String ?? "")).first())
            let rowB = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == (b.json["public_id"] as? String ?? "")).first())
            let secrets = try app.integrationSecrets
            #expect(try await secrets.open(rowA, on: app.db)["api_key"] == "key-of-row-a")

            // Row A's ciphertext in row B's field.
            var configB = StoredConfig(rowB.config).values
            configB["api_key"] = StoredConfig(rowA.config).values["api_key"]
            rowB.config = .object(configB)
            try await rowB.save(on: app.db)
            await #expect(throws: SecretsError.self) { _ = try await secrets.open(rowB, on: app.db) }

            // Row A's api_key ciphertext under another field name of row A.
            var configA = StoredConfig(rowA.config).values
            configA["facility_id"] = configA["api_key"]
            rowA.config = .object(configA)
            try await rowA.save(on: app.db)
            await #expect { _ = try await secrets.open(rowA, on: app.db) } throws: { error in
                guard case SecretsError.decryptionFailed(let integration, _, _) = error else { return false }
                return integration == rowA.publicID
            }
        }
    }

    @Test("rotation re-wraps every row while requests continue; interrupted and rerun it finishes; every secret still decrypts")
    func rotation() async throws {
        try await withEmptyDatabase { database in
            let oldKey = TestKeys.masterKey
            let newKey = TestKeys.randomKey()
            let count = 24
            let (auth, ids) = try await withMoeenApp(database: database.target) { app in
                let auth = try await app.bearer(role: .admin)
                var ids: [String] = []
                for index in 0..<count {
                    let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                        "integration_type": "tatman", "name": .string("Insurer \(index)"),
                        "config": ["api_url": "https://api.tatman.com.sa", "provider_id": .string("P\(index)"), "api_key": .string("secret-\(index)-value")],
                    ])
                    ids.append(try #require(created.json["public_id"] as? String))
                }
                return (auth, ids)
            }
            // A second key version becomes current; the first still unwraps.
            try await withMoeenApp(database: database.target, customize: { $0.environment["MOEEN_MASTER_KEY"] = "v1:\(oldKey),v2:\(newKey)" }) { app in
                let secrets = try app.integrationSecrets
                let service = KeyRotationService(db: app.db, secrets: secrets, logger: app.logger)
                let before = try await service.status()
                #expect(before.current.version == 2)
                #expect(before.versions.map(\.version) == [1])

                // Requests keep being answered while the rotation runs; the first run stops part-way.
                async let reads: [HTTPStatus] = {
                    var statuses: [HTTPStatus] = []
                    for id in ids.prefix(12) { statuses.append(try await app.call(.GET, "api/integrations/\(id)", auth: auth).status) }
                    return statuses
                }()
                let first = try await service.rotate(reencrypt: false, batchSize: 5, stopAfter: 10)
                #expect(first.run.status == "running")
                #expect(first.run.rowsDone == 10)
                #expect(try await reads.allSatisfy { $0 == .ok })
                let middle = try await service.status()
                #expect(middle.versions.first { $0.version == 1 }?.rows == count - 10)

                let second = try await service.rotate(reencrypt: false, batchSize: 5)
                #expect(second.run.status == "completed")
                #expect(second.run.id == first.run.id)
                #expect(second.run.rowsDone == count)
                let after = try await service.status()
                #expect(after.versions.map(\.version) == [2])
                #expect(after.versions.first?.rows == count)

                // Fresh data keys for every row, and still every secret opens.
                let third = try await service.rotate(reencrypt: true, batchSize: 7)
                #expect(third.run.status == "completed")
                #expect(third.run.rowsDone == count)
                for (index, id) in ids.enumerated() {
                    let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
                    #expect(try await secrets.open(row, on: app.db)["api_key"] == "secret-\(index)-value")
                }
            }
            // The old version alone can no longer open them; the new one alone can.
            try await withMoeenApp(database: database.target, customize: { $0.environment["MOEEN_MASTER_KEY"] = "v2:\(newKey)" }) { app in
                let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == ids[0]).first())
                #expect(try await app.integrationSecrets.open(row, on: app.db)["api_key"] == "secret-0-value")
            }
        }
    }
}

@Suite("Key providers in the service")
struct KeyProviderServiceTests {
    @Test("the vault provider (transit) seals through the API, survives a restart, and rotation re-wraps under the new key version")
    func vault() async throws {
        let vault = VaultTransitStandIn(token: "testing-vault-token", keyNames: ["moeen"])
        let address = try await vault.start()
        do {
            try await withEmptyDatabase { database in
                let settings: @Sendable (inout MoeenConfiguration) -> Void = { config in
                    config.keyProvider = .vault
                    config.environment = [
                        "MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": address.absoluteString,
                        "VAULT_TOKEN": "testing-vault-token", "MOEEN_VAULT_TRANSIT_KEY": "moeen",
                    ]
                }
                let id = try await withMoeenApp(database: database.target, customize: settings) { app in
                    let auth = try await app.bearer(role: .admin)
                    let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                        "integration_type": "seha", "name": "Vault sealed",
                        "config": ["api_url": "https://api.seha.sa", "facility_id": "F1", "api_key": "vault-protected-value"],
                    ])
                    #expect(created.status == .created, "\(created.text)")
                    let key = try #require(try await IntegrationDataKey.query(on: app.db).filter(\.$provider == "vault").first())
                    #expect(key.keyID == "vault:moeen")
                    #expect(key.keyVersion == 1)
                    return try #require(created.json["public_id"] as? String)
                }
                await vault.rotate(key: "moeen")
                try await withMoeenApp(database: database.target, customize: settings) { app in
                    let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
                    #expect(try await app.integrationSecrets.open(row, on: app.db)["api_key"] == "vault-protected-value")
                    let service = KeyRotationService(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
                    let run = try await service.rotate(reencrypt: false)
                    #expect(run.run.status == "completed")
                    #expect(try await service.status().versions.map(\.version) == [2])
                    #expect(try await app.integrationSecrets.open(row, on: app.db)["api_key"] == "vault-protected-value")
                }
            }
        } catch {
            try? await vault.shutdown()
            throw error
        }
        try await vault.shutdown()
    }
}
