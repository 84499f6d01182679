import Fluent
import Foundation
import MoeenCore
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

    /// `GET path` with a bearer token; the status and the error code (if any).
    static func get(_ app: Application, _ path: String, auth: String) async throws -> (status: HTTPStatus, code: String?, body: [String: Any]) {
        let res = try await app.testing().sendRequest(.GET, path, headers: .auth(auth))
        let body = (try? json(res)) ?? [:]
        return (res.status, (body["error"] as? [String: Any])?["code"] as? String, body)
    }

    static func percentEncoded(_ cursor: String) -> String {
        cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor
    }

    @Test("a forged, foreign, unreadable or stale cursor is 400 invalid_cursor, never an empty last page")
    func invalidCursor() async throws {
        try await withMoeenApp { app in
            let auth = try await app.bearer(role: .staff)
            for index in 0..<3 {
                _ = try await app.call(.POST, "/api/crm/leads", auth: auth, body: .object(["name": .string("Lead \(index)")]))
            }
            let first = try await Self.get(app, "api/crm/leads?limit=1", auth: auth)
            let cursor = try #require(first.body["next_cursor"] as? String)
            let second = try await Self.get(app, "api/crm/leads?limit=1&cursor=\(Self.percentEncoded(cursor))", auth: auth)
            #expect(second.status == .ok)
            #expect((second.body["data"] as? [Any])?.count == 1)

            let someUser = try #require(try await User.query(on: app.db).first()).requireID()
            for bad in [PageRequest.encode(UUID()), PageRequest.encode(someUser), "not a cursor", "bm90LWEtdXVpZA=="] {
                let answer = try await Self.get(app, "api/crm/leads?cursor=\(Self.percentEncoded(bad))", auth: auth)
                #expect(answer.status == .badRequest, "\(bad)")
                #expect(answer.code == "invalid_cursor", "\(bad)")
            }
            // The row the cursor names is deleted: the cursor is stale.
            let named = try #require(PageRequest.decode(cursor))
            try await CRMLead.query(on: app.db).filter(\.$id == named).delete()
            let stale = try await Self.get(app, "api/crm/leads?limit=1&cursor=\(Self.percentEncoded(cursor))", auth: auth)
            #expect(stale.status == .badRequest)
            #expect(stale.code == "invalid_cursor")
        }
    }

    @Test("a unique-key violation is recognised by the database's error code; other constraint failures are not")
    func uniqueViolationByCode() async throws {
        try await withMoeenApp { app in
            let user = User(email: "dup@example.org", name: "A", passwordHash: "-", role: .viewer)
            try await user.create(on: app.db)

            let sameEmail = User(email: "dup@example.org", name: "B", passwordHash: "-", role: .viewer)
            let duplicate = await #expect(throws: (any Error).self) { try await sameEmail.create(on: app.db) }
            #expect(duplicate.map(UniqueViolation.matches) == true)
            #expect(duplicate.map { ErrorRenderingMiddleware.map($0).status } == .conflict)

            let sameID = User(email: "other@example.org", name: "C", passwordHash: "-", role: .viewer)
            sameID.id = user.id
            let primaryKey = await #expect(throws: (any Error).self) { try await sameID.create(on: app.db) }
            #expect(primaryKey.map(UniqueViolation.matches) == true)

            // A CHECK constraint (a role outside the allowed values) is a constraint failure, not a duplicate.
            let sql = try #require(app.db as? any SQLDatabase)
            let check = await #expect(throws: (any Error).self) {
                try await sql.raw("""
                    INSERT INTO users (id, email, name, password_hash, role, is_active, created_at, updated_at)
                    VALUES (\(bind: UUID()), 'check@example.org', 'D', '-', 'owner', \(bind: true), \(bind: Date()), \(bind: Date()))
                    """).run()
            }
            #expect(check.map(UniqueViolation.matches) == false)
            #expect(check.map { ErrorRenderingMiddleware.map($0).status } == .unprocessableEntity)
            #expect(UniqueViolation.matches(APIError.conflict("x")) == false)
        }
    }

    @Test("the same new user created many times at once: one is created, every other is told the address is in use")
    func concurrentDuplicateUsers() async throws {
        try await withMoeenApp { app in
            try await app.bootAsServe()
            let outcomes = await withTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await app.accounts.createUser(email: "same@example.org", name: "Same", role: .viewer, password: "correct horse battery")
                            return "created"
                        } catch let problem as Accounts.Problem {
                            return "problem: \(problem)"
                        } catch {
                            return "other: \(error)"
                        }
                    }
                }
                var all: [String] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.filter { $0 == "created" }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == "problem: email is already used by another user" }.count == 7, "\(outcomes)")
            let stored = try await User.query(on: app.db).filter(\.$email == "same@example.org").count()
            #expect(stored == 1)
        }
    }

    @Test("no value bound into SQL reaches the log at any level (trace here): a lead's e-mail and phone, a user's e-mail")
    func bindsNeverLogged() async throws {
        try await withMoeenApp { app in
            #expect(app.logger.logLevel == .trace)
            let sentinel = "sentinel\(UUID().uuidString.prefix(8).lowercased())"
            let digits = String((0..<8).map { _ in Character(String(Int.random(in: 0...9))) })
            let email = "\(sentinel)@example.org"
            let phone = "+9665\(digits)"
            let auth = try await app.bearer(role: .staff)
            let created = try await app.call(.POST, "/api/crm/leads", auth: auth, body: .object([
                "name": .string("Lead"), "email": .string(email), "phone": .string(phone),
            ]))
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.json["public_id"] as? String)
            #expect(try await app.call(.GET, "/api/crm/leads/\(id)", auth: auth).text.contains(sentinel))
            #expect(try await app.call(.GET, "/api/crm/leads", auth: auth).text.contains(sentinel))
            let lead = try await CRMLead.query(on: app.db).filter(\.$email == email).first()
            #expect(lead?.phone?.hasSuffix(digits) == true)

            _ = try await app.accounts.createUser(email: "user-\(email)", name: "User", role: .viewer, password: "correct horse battery")
            let formToken = SessionCookie.randomToken()
            let signIn = try await app.postForm("/login", ["email": "user-\(email)", "password": "not it at all", "csrf_token": formToken],
                                                headers: ["Cookie": "\(LoginController.formCookie)=\(formToken)"])
            #expect(signIn.status == .unauthorized)

            let log = LogCapture.shared.text
            #expect(log.contains("crm_leads"), "the queries were logged (without their values)")
            #expect(!log.contains(sentinel), "an e-mail address reached the log")
            #expect(!log.contains(digits), "a phone number reached the log")
        }
    }
}
