import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor
import VaporTesting

@Suite("Integrations API")
struct IntegrationsAPITests {
    @Test("GET /api/integration-types serves the catalogue with Arabic and English labels")
    func catalogue() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .viewer)
            try await app.testing().test(.GET, "api/integration-types", headers: .auth(auth)) { res async throws in
                #expect(res.status == .ok)
                let types = try #require(try JSONSerialization.jsonObject(with: Data(buffer: res.body)) as? [[String: Any]])
                #expect(types.count == 7)
                let whatsapp = try #require(types.first { $0["type"] as? String == "whatsapp" })
                let fields = try #require(whatsapp["fields"] as? [[String: Any]])
                let token = try #require(fields.first { $0["name"] as? String == "access_token" })
                #expect(token["secret"] as? Bool == true)
                #expect(token["required"] as? Bool == true)
                #expect((token["label_ar"] as? String)?.isEmpty == false)
                #expect(token["label_en"] as? String == "Access token")
            }
        }
    }

    @Test("create, read, patch and delete; secrets answer only {set, hint}; every change is audited without secrets")
    func lifecycle() async throws {
        let sentinel = "sentinel-\(UUID().uuidString)-token"
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "whatsapp", "name": "Clinic WhatsApp", "is_enabled": true,
                "config": ["api_url": "https://graph.facebook.com/v17.0", "phone_number_id": "1065000000", "access_token": .string(sentinel)],
            ])
            #expect(created.status == .created)
            let config = try #require(created.json["config"] as? [String: Any])
            let token = try #require(config["access_token"] as? [String: Any])
            #expect(token["set"] as? Bool == true)
            #expect(token["hint"] as? String == "…" + String(sentinel.suffix(4)))
            #expect(config["phone_number_id"] as? String == "1065000000")
            let id = try #require(created.json["public_id"] as? String)

            // Omitting the secret, or sending its hint or {"set": true} back, keeps it.
            for keep: JSONValue in [["phone_number_id": "1065000001"], ["access_token": .string("…" + String(sentinel.suffix(4)))], ["access_token": ["set": true]]] {
                let patched = try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: ["config": keep])
                #expect(patched.status == .ok)
                #expect(((patched.json["config"] as? [String: Any])?["access_token"] as? [String: Any])?["set"] as? Bool == true)
            }
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
            let opened = try await app.integrationSecrets.open(row, on: app.db)
            #expect(opened["access_token"] == sentinel)
            #expect(opened["phone_number_id"] == "1065000001")

            // A disabled integration may be saved without its required token; an enabled one may not.
            let cleared = try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: ["config": ["access_token": nil]])
            #expect(cleared.status == .unprocessableEntity)
            #expect((try errorFieldsOf(cleared.json))?["config.access_token"] != nil)
            let disabled = try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: ["is_enabled": false, "config": ["access_token": nil]])
            #expect(disabled.status == .ok)
            #expect(((disabled.json["config"] as? [String: Any])?["access_token"]) == nil)
            #expect(disabled.json["status"] as? String == "inactive")

            let deleted = try await app.call(.DELETE, "api/integrations/\(id)", auth: auth)
            #expect(deleted.status == .noContent)
            #expect(try await app.call(.GET, "api/integrations/\(id)", auth: auth).status == .notFound)

            let audits = try await AuditLog.query(on: app.db).filter(\.$tableName == "integration_configs").all()
            #expect(Set(audits.map(\.action)) == ["INSERT", "UPDATE", "DELETE"])
            for audit in audits {
                let old = audit.oldValues.map { $0.jsonText() } ?? ""
                let new = audit.newValues.map { $0.jsonText() } ?? ""
                #expect(!old.contains(sentinel))
                #expect(!new.contains(sentinel))
            }
        }
    }

    @Test("invalid settings are a 422 naming the field; an unknown type is a 422")
    func validation() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            let badURL = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "sms", "name": "SMS", "config": ["account_sid": "XX123", "from_number": "0501234567"],
            ])
            #expect(badURL.status == .unprocessableEntity)
            let fields = try #require(try errorFieldsOf(badURL.json))
            #expect(fields["config.account_sid"] != nil)
            #expect(fields["config.from_number"] != nil)

            let unknown = try await app.call(.POST, "api/integrations", auth: auth, body: ["integration_type": "fax", "name": "Fax"])
            #expect(unknown.status == .unprocessableEntity)
            #expect((try errorFieldsOf(unknown.json))?["integration_type"] != nil)

            let wrongType = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "email", "name": "Mail", "config": ["from_email": 12],
            ])
            #expect(wrongType.status == .unprocessableEntity)
            #expect((try errorFieldsOf(wrongType.json))?["config.from_email"] != nil)
            #expect(try await IntegrationConfig.query(on: app.db).count() == 7)
        }
    }

    @Test("roles: a viewer reads, a manager tests, only an admin writes")
    func roles() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.bearer(role: .viewer)
            let manager = try await app.bearer(role: .manager)
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$integrationType == "slack").first())
            #expect(try await app.call(.GET, "api/integrations/\(row.publicID)/logs", auth: viewer).status == .ok)
            #expect(try await app.call(.POST, "api/integrations/\(row.publicID)/test", auth: viewer).status == .forbidden)
            #expect(try await app.call(.PATCH, "api/integrations/\(row.publicID)", auth: manager, body: ["name": "x"]).status == .forbidden)
            #expect(try await app.call(.DELETE, "api/integrations/\(row.publicID)", auth: manager).status == .forbidden)
            // The manager may run the test; the seeded row has no settings yet, so it is a 422 naming the field.
            let test = try await app.call(.POST, "api/integrations/\(row.publicID)/test", auth: manager)
            #expect(test.status == .unprocessableEntity)
            #expect((try errorFieldsOf(test.json))?["config.webhook_url"] != nil)
        }
    }
}

func errorFieldsOf(_ json: [String: Any]) throws -> [String: String]? {
    (json["error"] as? [String: Any])?["fields"] as? [String: String]
}
