import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor

@Suite("Alert rules API")
struct AlertRulesAPITests {
    @Test("the default rules exist after the first start, notify nobody, and receipts_missing skips Slack")
    func defaults() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            let list = try await app.call(.GET, "api/alert-rules?limit=200", auth: admin)
            #expect(list.status == .ok, "\(list.text)")
            let rules = try #require(list.json["data"] as? [[String: Any]])
            #expect(rules.count == CreateAlertTables.defaults.count)
            #expect(Set(rules.compactMap { $0["kind"] as? String }) == Set(AlertKind.allCases.map(\.rawValue)))
            for rule in rules {
                #expect(rule["is_default"] as? Bool == true)
                #expect(rule["is_enabled"] as? Bool == true)
                #expect((rule["channels"] as? [Any])?.isEmpty == true)
                #expect((rule["id"] as? String)?.hasPrefix("alr_") == true)
            }
            let expiry = try #require(rules.first { $0["kind"] as? String == "credential_expiry" })
            #expect(expiry["threshold"] as? Double == 14)
            #expect(expiry["cooldown"] as? String == "24h")
            let health = try #require(rules.first { $0["kind"] as? String == "health_below" })
            #expect(health["window"] as? String == "15m")
            #expect(health["cooldown"] as? String == "1h")
            let slack = IntegrationConfig()
            slack.integrationType = "slack"
            #expect(!AlertEvaluator.inScope(slack, rule: AlertRule(), kind: .receiptsMissing))
        }
    }

    @Test("create, read, change and delete a rule, each change with an audit row; {id} takes the UUID or the public id")
    func crud() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            let slack = try await app.integrationID("slack")
            let email = try await app.integrationID("email")
            let sms = try await app.integrationID("sms")
            let created = try await app.call(.POST, "api/alert-rules", auth: admin, body: [
                "name": "SMS failing", "kind": "dispatch_failure_rate", "integration_id": .string(sms), "threshold": .number("0.25"),
                "window": "30m", "cooldown": "2h",
                "channels": [["integration_id": .string(slack)], ["integration_id": .string(email), "recipients": ["Ops@Example.org"]]],
            ])
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.json["id"] as? String)
            #expect(id.hasPrefix("alr_"))
            #expect(created.json["integration_id"] as? String == sms)
            #expect(created.json["integration_type"] == nil)
            #expect(created.json["threshold"] as? Double == 0.25)
            #expect(created.json["window"] as? String == "30m")
            #expect(created.json["cooldown"] as? String == "2h")
            #expect(created.json["is_enabled"] as? Bool == true)
            #expect(created.json["is_default"] as? Bool == false)
            let channels = try #require(created.json["channels"] as? [[String: Any]])
            #expect(channels.count == 2)
            #expect(channels[0]["recipients"] == nil)
            #expect(channels[1]["recipients"] as? [String] == ["ops@example.org"])

            let row = try #require(try await AlertRule.find(idOrPublicID: id, on: app.db))
            let byUUID = try await app.call(.GET, "api/alert-rules/\(try row.requireID().uuidString)", auth: admin)
            #expect(byUUID.status == .ok)
            #expect(byUUID.json["name"] as? String == "SMS failing")

            // PATCH: absent members keep their values; null clears the scope.
            let changed = try await app.call(.PATCH, "api/alert-rules/\(id)", auth: admin, body: [
                "integration_id": nil, "integration_type": "whatsapp", "is_enabled": false, "cooldown": "45m",
            ])
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.json["integration_id"] == nil)
            #expect(changed.json["integration_type"] as? String == "whatsapp")
            #expect(changed.json["is_enabled"] as? Bool == false)
            #expect(changed.json["cooldown"] as? String == "45m")
            #expect(changed.json["window"] as? String == "30m")
            #expect((changed.json["channels"] as? [Any])?.count == 2)

            let deleted = try await app.call(.DELETE, "api/alert-rules/\(id)", auth: admin)
            #expect(deleted.status == .noContent)
            #expect(try await app.call(.GET, "api/alert-rules/\(id)", auth: admin).status == .notFound)
            #expect(try await app.call(.DELETE, "api/alert-rules/\(id)", auth: admin).status == .notFound)

            let audits = try await AuditLog.query(on: app.db).filter(\.$tableName == "alert_rules")
                .filter(\.$recordID == (try row.requireID().uuidString)).sort(\.$createdAt).all()
            #expect(Set(audits.map(\.action)) == ["INSERT", "UPDATE", "DELETE"])
            let update = try #require(audits.first { $0.action == "UPDATE" })
            #expect(update.oldValues?["integration_id"]?.stringValue == sms)
            #expect(update.newValues?["integration_type"]?.stringValue == "whatsapp")
            #expect(update.newValues?["is_enabled"]?.boolValue == false)
            #expect(audits.allSatisfy { $0.$user.id != nil })
        }
    }

    @Test("only admins manage rules: 403 for managers, staff and viewers, 401 without a token")
    func roles() async throws {
        try await withMoeenApp { app in
            #expect(try await app.call(.GET, "api/alert-rules", auth: nil).status == .unauthorized)
            for role in [UserRole.manager, .staff, .viewer] {
                let auth = try await app.bearer(role: role)
                #expect(try await app.call(.GET, "api/alert-rules", auth: auth).status == .forbidden, "\(role)")
                let post = try await app.call(.POST, "api/alert-rules", auth: auth, body: ["name": "x", "kind": "dead_messages", "threshold": 1, "window": "1h"])
                #expect(post.status == .forbidden, "\(role)")
                let id = try #require(try await AlertRule.query(on: app.db).first()).publicID
                #expect(try await app.call(.PATCH, "api/alert-rules/\(id)", auth: auth, body: ["is_enabled": false]).status == .forbidden)
                #expect(try await app.call(.DELETE, "api/alert-rules/\(id)", auth: auth).status == .forbidden)
            }
        }
    }

    @Test("validation names each field (422), a taken name is 409, a body that is not an object is 400")
    func validation() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            let slack = try await app.integrationID("slack")
            let email = try await app.integrationID("email")
            let sms = try await app.integrationID("sms")
            func fields(_ body: JSONValue) async throws -> [String: String] {
                let answer = try await app.call(.POST, "api/alert-rules", auth: admin, body: body)
                #expect(answer.status == .unprocessableEntity, "\(body.jsonText()) → \(answer.text)")
                return ((answer.json["error"] as? [String: Any])?["fields"] as? [String: String]) ?? [:]
            }
            let base: [String: JSONValue] = ["name": "Rule", "kind": "dead_messages", "threshold": 1, "window": "1h"]
            func with(_ changes: [String: JSONValue]) -> JSONValue { .object(base.merging(changes) { _, new in new }) }

            #expect(try await fields(with(["name": "  "]))["name"] == "required")
            #expect(try await fields(with(["name": .string(String(repeating: "x", count: 121))]))["name"] != nil)
            #expect(try await fields(with(["kind": "pager"]))["kind"]?.hasPrefix("must be one of") == true)
            #expect(try await fields(.object(base.filter { $0.key != "kind" }))["kind"] != nil)
            #expect(try await fields(with(["integration_id": "int_20260101_00000000"]))["integration_id"] == "no integration has this id")
            #expect(try await fields(with(["integration_type": "pager"]))["integration_type"] != nil)
            #expect(try await fields(with(["integration_id": .string(sms), "integration_type": "sms"]))["integration_type"]?.contains("not both") == true)
            #expect(try await fields(with(["kind": "receipts_missing", "threshold": 30, "window": "2h", "integration_type": "slack"]))["integration_type"] != nil)
            #expect(try await fields(with(["kind": "receipts_missing", "threshold": 30, "window": "2h", "integration_id": .string(slack)]))["integration_id"] != nil)
            #expect(try await fields(with(["kind": "receipts_missing", "threshold": 30, "window": "20m"]))["window"] != nil)
            #expect(try await fields(with(["threshold": nil]))["threshold"] != nil)
            #expect(try await fields(with(["threshold": 0]))["threshold"] != nil)
            #expect(try await fields(with(["kind": "health_below", "threshold": 150, "window": "15m"]))["threshold"] != nil)
            #expect(try await fields(with(["kind": "dispatch_failure_rate", "threshold": 50, "window": "15m"]))["threshold"] != nil)
            #expect(try await fields(with(["kind": "consecutive_failures", "threshold": .number("2.5"), "window": nil]))["threshold"] != nil)
            #expect(try await fields(with(["kind": "queue_age", "threshold": 600, "window": "10m"]))["window"] != nil)
            #expect(try await fields(with(["window": nil]))["window"] != nil)
            #expect(try await fields(with(["window": "15 minutes"]))["window"] != nil)
            #expect(try await fields(with(["window": "10s"]))["window"] != nil)
            #expect(try await fields(with(["cooldown": "1.5ms"]))["cooldown"] != nil)
            #expect(try await fields(with(["cooldown": "200h"]))["cooldown"] != nil)
            #expect(try await fields(with(["channels": [["integration_id": .string(sms)]]]))["channels[0].integration_id"] != nil)
            #expect(try await fields(with(["channels": [["recipients": ["a@example.org"]]]]))["channels[0].integration_id"] != nil)
            #expect(try await fields(with(["channels": [["integration_id": "int_20260101_00000000"]]]))["channels[0].integration_id"] != nil)
            #expect(try await fields(with(["channels": [["integration_id": .string(email)]]]))["channels[0].recipients"] != nil)
            #expect(try await fields(with(["channels": [["integration_id": .string(email), "recipients": ["ok@example.org", "nope"]]]]))["channels[0].recipients[1]"] != nil)
            #expect(try await fields(with(["channels": [["integration_id": .string(slack), "recipients": ["a@example.org"]]]]))["channels[0].recipients"] != nil)
            #expect(try await fields(with(["channels": "slack"]))["channels"] != nil)
            #expect(try await fields(with(["threshold": "many"]))["threshold"] != nil)
            #expect(try await fields(with(["is_enabled": "yes"]))["is_enabled"] != nil)

            let first = try await app.call(.POST, "api/alert-rules", auth: admin, body: with([:]))
            #expect(first.status == .created, "\(first.text)")
            let again = try await app.call(.POST, "api/alert-rules", auth: admin, body: with([:]))
            #expect(again.status == .conflict, "\(again.text)")
            let taken = try #require(try await AlertRule.query(on: app.db).filter(\.$isDefault == true).first()).name
            let id = try #require(first.json["id"] as? String)
            #expect(try await app.call(.PATCH, "api/alert-rules/\(id)", auth: admin, body: ["name": .string(taken)]).status == .conflict)
            let bad = try await app.call(.PATCH, "api/alert-rules/\(id)", auth: admin, body: ["threshold": -1])
            #expect(bad.status == .unprocessableEntity)
            #expect(try await app.call(.POST, "api/alert-rules", auth: admin, body: ["not", "an", "object"]).status == .badRequest)
            #expect(try await AlertRule.query(on: app.db).filter(\.$isDefault == false).count() == 1)
        }
    }
}
