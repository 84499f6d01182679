import Fluent
import Foundation
@testable import MoeenServer
import SQLKit
import Testing
import Vapor
import VaporTesting

@Suite("API basics")
struct APIBasicsTests {
    @Test("GET /health and GET /ready answer 200 on a migrated database")
    func healthAndReady() async throws {
        try await withMoeenApp { app in
            try await app.testing().test(.GET, "health") { res async throws in
                #expect(res.status == .ok)
                #expect(try json(res)["status"] as? String == "ok")
            }
            try await app.testing().test(.GET, "ready") { res async throws in
                #expect(res.status == .ok)
            }
        }
    }

    @Test("GET /ready is 503 until migrations are applied")
    func notReadyBeforeMigrations() async throws {
        try await withEmptyDatabase { database in
            let app = try await Application.make(.testing)
            do {
                try await configure(app, configuration: MoeenConfiguration(
                    environmentName: "testing", database: database.target, environment: ["MOEEN_MASTER_KEY": TestKeys.masterKey]
                ))
                try await app.testing().test(.GET, "ready") { res async throws in
                    #expect(res.status == .serviceUnavailable)
                }
                try await DatabaseSetup.migrate(app)
                try await app.testing().test(.GET, "ready") { res async throws in
                    #expect(res.status == .ok)
                }
            } catch {
                try? await app.asyncShutdown()
                throw error
            }
            try await app.asyncShutdown()
        }
    }

    @Test("no token is 401 in the error shape; an unknown token is 401 too")
    func unauthenticated() async throws {
        try await withMoeenApp { app in
            try await app.testing().test(.GET, "api/integrations") { res async throws in
                #expect(res.status == .unauthorized)
                let error = try #require(try json(res)["error"] as? [String: Any])
                #expect(error["code"] as? String == "unauthenticated")
                #expect((error["message"] as? String)?.isEmpty == false)
            }
            try await app.testing().test(.GET, "api/integrations", headers: ["Authorization": "Bearer mhk_notarealtoken"]) { res async throws in
                #expect(res.status == .unauthorized)
            }
        }
    }

    @Test("a token created for a user works on /api/integrations, and is stored only hashed")
    func tokenWorksAndIsHashed() async throws {
        try await withMoeenApp { app in
            _ = try await app.accounts.createUser(email: "ops@example.org", name: "Ops", role: .viewer, password: "correct horse battery")
            let (token, _) = try await app.accounts.createToken(forEmail: "ops@example.org", name: "script")
            try await app.testing().test(.GET, "api/integrations", headers: ["Authorization": "Bearer \(token)"]) { res async throws in
                #expect(res.status == .ok)
                let body = try json(res)
                #expect((body["data"] as? [Any])?.count == 7)
                #expect(body.keys.contains("next_cursor"))
            }
            let sql = try #require(app.db as? any SQLDatabase)
            struct Row: Decodable { let token_hash: String; let token_prefix: String }
            let rows = try await sql.raw("SELECT token_hash, token_prefix FROM api_tokens").all(decoding: Row.self)
            #expect(rows.count == 1)
            for row in rows {
                #expect(row.token_hash != token)
                #expect(!row.token_hash.contains(token))
                #expect(!token.hasPrefix(row.token_hash))
                #expect(row.token_prefix.count < token.count / 2)
            }
        }
    }

    @Test("GET /api/integrations/{id} accepts the UUID and the public_id; unknown is 404")
    func showByEitherID() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .viewer)
            let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$integrationType == "whatsapp").first())
            for id in [try row.requireID().uuidString, row.publicID] {
                try await app.testing().test(.GET, "api/integrations/\(id)", headers: .auth(auth)) { res async throws in
                    #expect(res.status == .ok)
                    let body = try json(res)
                    #expect(body["public_id"] as? String == row.publicID)
                    #expect(body["integration_type"] as? String == "whatsapp")
                    #expect(body["health_score"] as? Int == 0)
                }
            }
            try await app.testing().test(.GET, "api/integrations/int_20260101_deadbeef", headers: .auth(auth)) { res async throws in
                #expect(res.status == .notFound)
                let code = try errorCode(res)
                #expect(code == "not_found")
            }
        }
    }

    @Test("list pagination: limit and cursor walk every row once")
    func pagination() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .viewer)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = "api/integrations?limit=3" + (cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "")
                try await app.testing().test(.GET, query, headers: .auth(auth)) { res async throws in
                    #expect(res.status == .ok)
                    let body = try json(res)
                    let items = try #require(body["data"] as? [[String: Any]])
                    #expect(items.count <= 3)
                    seen += items.compactMap { $0["public_id"] as? String }
                    cursor = body["next_cursor"] as? String
                }
            } while cursor != nil && seen.count < 20
            #expect(seen.count == 7)
            #expect(Set(seen).count == 7)
            try await app.testing().test(.GET, "api/integrations?limit=500", headers: .auth(auth)) { res async throws in
                #expect(res.status == .unprocessableEntity)
            }
        }
    }

    @Test("a viewer calling an admin-only route is 403")
    func viewerForbidden() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .viewer)
            try await app.testing().test(.POST, "api/integrations", headers: .auth(auth), beforeRequest: { req in
                try req.content.encode(["integration_type": "slack", "name": "Ops alerts"])
            }) { res async throws in
                #expect(res.status == .forbidden)
                let code = try errorCode(res)
                #expect(code == "forbidden")
            }
        }
    }

    @Test("a duplicate (integration_type, name) is 409")
    func duplicateIs409() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            try await app.testing().test(.POST, "api/integrations", headers: .auth(auth), beforeRequest: { req in
                try req.content.encode(["integration_type": "whatsapp", "name": "WhatsApp Business API"])
            }) { res async throws in
                #expect(res.status == .conflict)
                let code = try errorCode(res)
                #expect(code == "conflict")
            }
            let count = try await IntegrationConfig.query(on: app.db).count()
            #expect(count == 7)
        }
    }

    @Test("malformed JSON is 400; a wrong type is 422 naming the field; a bad status value is 422 naming the field")
    func badInput() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            try await app.testing().test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: "{\"name\": \"Ali\", ")
            }) { res async throws in
                #expect(res.status == .badRequest)
                let code = try errorCode(res)
                #expect(code == "malformed_request")
            }
            try await app.testing().test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: #"{"name": "Ali", "probability": "high"}"#)
            }) { res async throws in
                #expect(res.status == .unprocessableEntity)
                let fields = try errorFields(res)
                #expect(fields?["probability"] != nil)
            }
            try await app.testing().test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: #"{"name": "Ali", "status": "won-somehow", "probability": 140}"#)
            }) { res async throws in
                #expect(res.status == .unprocessableEntity)
                let fields = try #require(try errorFields(res))
                #expect(fields["status"]?.contains("closed-won") == true)
                #expect(fields["probability"] != nil)
            }
            try await app.testing().test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: #"{"name": "Ali", "value": "12.345"}"#)
            }) { res async throws in
                #expect(res.status == .unprocessableEntity)
                let fields = try errorFields(res)
                #expect(fields?["value"] != nil)
            }
            let leads = try await CRMLead.query(on: app.db).count()
            #expect(leads == 0)
        }
    }

    @Test("a body over the limit is 413")
    func tooLarge() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .admin)
            let big = String(repeating: "x", count: 1_100_000)
            try await app.testing(method: .running(port: 0)).test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: "{\"name\": \"\(big)\"}")
            }) { res async throws in
                #expect(res.status == .payloadTooLarge)
            }
        }
    }

    @Test("money round-trips exactly through the API")
    func moneyThroughAPI() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .staff)
            var id = ""
            try await app.testing().test(.POST, "api/crm/leads", headers: .auth(auth), beforeRequest: { req in
                req.body = ByteBuffer(string: #"{"name": "مركز الهمم", "value": "1250.5", "status": "qualified", "probability": 60, "tags": ["مهم", "vip"]}"#)
            }) { res async throws in
                #expect(res.status == .created)
                let body = try json(res)
                #expect(body["value"] as? String == "1250.50")
                id = body["public_id"] as? String ?? ""
            }
            try await app.testing().test(.GET, "api/crm/leads/\(id)", headers: .auth(auth)) { res async throws in
                #expect(res.status == .ok)
                let body = try json(res)
                #expect(body["value"] as? String == "1250.50")
                #expect(body["name"] as? String == "مركز الهمم")
                #expect(body["tags"] as? [String] == ["مهم", "vip"])
            }
        }
    }
}
