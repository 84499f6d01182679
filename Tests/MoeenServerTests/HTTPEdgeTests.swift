import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// What the service answers before any handler: a method a known path does not have (405 with `Allow`), and
/// U+0000 in an id, a query or a body (404 or 422, never a 500, on either database).
@Suite("HTTP edge")
struct HTTPEdgeTests {
    @Test("a known path with a method it does not have is 405 with Allow; an unknown path stays 404")
    func methodNotAllowed() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            try await app.testing().test(.PUT, "health") { res async in
                #expect(res.status == .methodNotAllowed)
                #expect(res.headers.first(name: "Allow") == "GET, HEAD")
            }
            try await app.testing().test(.PUT, "api/integrations/int_20260101_00000000", headers: ["Authorization": admin]) { res async throws in
                #expect(res.status == .methodNotAllowed)
                #expect(res.headers.first(name: "Allow") == "GET, HEAD, PATCH, DELETE")
                #expect(try errorCode(res) == "method_not_allowed")
            }
            try await app.testing().test(.GET, "api/no-such-thing", headers: ["Authorization": admin]) { res async in
                #expect(res.status == .notFound)
            }
        }
    }

    @Test("U+0000 in a path id is 404, in a query parameter or an /api body 422 naming it")
    func nulCharacters() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            for path in ["/api/integrations/int_%00", "/api/integrations/int_%00/webhook-events", "/api/messages/msg_%00",
                         "/webhooks/seha/int_%00"] {
                let answer = try await app.call(.GET, path, auth: admin)
                #expect(answer.status == .notFound || answer.status == .methodNotAllowed, "\(path): \(answer.text)")
            }
            let deleted = try await app.call(.DELETE, "/api/opt-outs/opt_%00", auth: admin)
            #expect(deleted.status == .notFound, "\(deleted.text)")
            let listed = try await app.call(.GET, "/api/messages?patient_id=pat_%00", auth: admin)
            #expect(listed.status == .unprocessableEntity)
            #expect((listed.json["error"] as? [String: Any]).flatMap { $0["fields"] as? [String: String] }?["patient_id"] != nil)
            let tested = try await app.call(.POST, "/api/integrations/test", auth: admin,
                                            body: ["integration_config_id": "int_\u{0}", "integration_type": "sms"])
            #expect(tested.status == .unprocessableEntity, "\(tested.text)")
            let created = try await app.call(.POST, "/api/integrations", auth: admin,
                                             body: ["integration_type": "sms", "name": "a\u{0}b", "config": [:]])
            #expect(created.status == .unprocessableEntity, "\(created.text)")
            #expect((created.json["error"] as? [String: Any]).flatMap { $0["fields"] as? [String: String] }?["name"] != nil)
            // An escaped backslash followed by "u0000" is text, not U+0000.
            let optOut = try await app.call(.POST, "/api/opt-outs", auth: admin,
                                            body: ["channel": "email", "address": "a@example.org", "reason": "x\\u0000"])
            #expect(optOut.status == .created, "\(optOut.text)")
        }
    }
}
