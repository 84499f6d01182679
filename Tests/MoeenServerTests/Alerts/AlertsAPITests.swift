import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor

@Suite("Alerts API")
struct AlertsAPITests {
    /// Stores an alert of the first default rule about the integration.
    static func makeAlert(_ app: Application, subject: String, state: AlertState, at date: Date) async throws -> Alert {
        let rule = try #require(try await AlertRule.query(on: app.db).sort(\.$createdAt).first())
        let integration = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == subject).first())
        let alert = Alert()
        alert.id = UUID()
        alert.publicID = PublicID.make(.alert, at: date, randomHexDigits: 12)
        alert.$rule.id = try rule.requireID()
        alert.integrationConfigID = integration.id
        alert.subject = subject
        alert.state = state.rawValue
        alert.summary = "Health score 10 has stayed below 50 for at least 15m."
        alert.value = 10
        alert.firedAt = date
        alert.notificationsSent = 0
        alert.resolvedAt = state == .resolved ? date.addingTimeInterval(60) : nil
        try await alert.create(on: app.db)
        return alert
    }

    @Test("any signed-in role lists alerts newest first, filtered by state, with cursor paging; {id} takes the UUID or the public id")
    func list() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.bearer(role: .viewer)
            let types = ["whatsapp", "sms", "email", "slack", "seha"]
            var made: [Alert] = []
            for (index, type) in types.enumerated() {
                let subject = try await app.integrationID(type)
                made.append(try await Self.makeAlert(app, subject: subject, state: index % 2 == 0 ? .open : .resolved,
                                                     at: Date().addingTimeInterval(Double(index))))
            }
            #expect(try await app.call(.GET, "api/alerts", auth: nil).status == .unauthorized)
            let all = try await app.call(.GET, "api/alerts", auth: viewer)
            #expect(all.status == .ok, "\(all.text)")
            let ids = (all.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(Set(ids ?? []) == Set(made.map(\.publicID)))

            var seen: [String] = []
            var cursor: String?
            repeat {
                let path = "api/alerts?state=open&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await app.call(.GET, path, auth: viewer)
                #expect(page.status == .ok, "\(page.text)")
                let rows = try #require(page.json["data"] as? [[String: Any]])
                #expect(rows.allSatisfy { $0["state"] as? String == "open" })
                seen += rows.compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == made.filter { $0.state == "open" }.reversed().map(\.publicID))
            let resolved = try await app.call(.GET, "api/alerts?state=resolved", auth: viewer)
            #expect((resolved.json["data"] as? [[String: Any]])?.count == 2)
            #expect(try await app.call(.GET, "api/alerts?state=closed", auth: viewer).status == .unprocessableEntity)

            let first = made[0]
            let shown = try await app.call(.GET, "api/alerts/\(try first.requireID().uuidString)", auth: viewer)
            #expect(shown.status == .ok)
            #expect(shown.json["id"] as? String == first.publicID)
            #expect((shown.json["rule_id"] as? String)?.hasPrefix("alr_") == true)
            #expect(shown.json["rule_name"] is String)
            #expect(shown.json["kind"] is String)
            #expect(shown.json["integration_id"] as? String == first.subject)
            #expect(shown.json["value"] as? Double == 10)
            #expect(shown.json["notifications_sent"] as? Int == 0)
            #expect((shown.json["fired_at"] as? String)?.hasSuffix("Z") == true)
            #expect(shown.json["resolved_at"] == nil)
            #expect(try await app.call(.GET, "api/alerts/alt_20260101_000000000000", auth: viewer).status == .notFound)
        }
    }

    @Test("managers and admins acknowledge (audited, idempotent); staff and viewers get 403; a resolved alert is 409")
    func acknowledge() async throws {
        try await withMoeenApp { app in
            let subject = try await app.integrationID("sms")
            let open = try await Self.makeAlert(app, subject: subject, state: .open, at: Date())
            let resolved = try await Self.makeAlert(app, subject: try await app.integrationID("email"), state: .resolved, at: Date())
            for role in [UserRole.viewer, .staff] {
                let auth = try await app.bearer(role: role)
                #expect(try await app.call(.POST, "api/alerts/\(open.publicID)/acknowledge", auth: auth).status == .forbidden)
            }
            let manager = try await app.bearer(role: .manager)
            let acknowledged = try await app.call(.POST, "api/alerts/\(open.publicID)/acknowledge", auth: manager)
            #expect(acknowledged.status == .ok, "\(acknowledged.text)")
            #expect(acknowledged.json["state"] as? String == "open")
            let at = try #require(acknowledged.json["acknowledged_at"] as? String)
            #expect(acknowledged.json["acknowledged_by"] is String)
            let again = try await app.call(.POST, "api/alerts/\(open.publicID)/acknowledge", auth: try await app.bearer(role: .admin))
            #expect(again.status == .ok)
            #expect(again.json["acknowledged_at"] as? String == at)
            #expect(try await app.call(.POST, "api/alerts/\(resolved.publicID)/acknowledge", auth: manager).status == .conflict)
            #expect(try await app.call(.POST, "api/alerts/nope/acknowledge", auth: manager).status == .notFound)
            let audits = try await AuditLog.query(on: app.db).filter(\.$tableName == "alerts").all()
            #expect(audits.count == 1)
            #expect(audits.first?.recordID == (try open.requireID().uuidString))
        }
    }

    @Test("the default rules open and resolve alerts though they notify nobody")
    func defaultsNotifyNobody() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            let sent = try await app.sendMessage(["channel": "sms", "to": "0551234567", "text": "waiting"], auth: fx.admin)
            #expect(sent.status == .accepted)
            let evaluator = app.testAlertEvaluator()
            let now = Date()
            try await evaluator.evaluate(now: now.addingTimeInterval(11 * 60))
            let open = try await Alert.query(on: app.db).with(\.$rule).filter(\.$state == "open").all()
            let queueAge = try #require(open.first { $0.rule.kind == "queue_age" })
            #expect(queueAge.subject == fx.integrationID)
            #expect(queueAge.notificationsSent == 0)
            #expect(try await OutboundMessage.query(on: app.db).count() == 1)
            let listed = try await app.call(.GET, "api/alerts?state=open", auth: fx.admin)
            #expect((listed.json["data"] as? [[String: Any]])?.contains { $0["id"] as? String == queueAge.publicID } == true)

            _ = try await app.testDispatcher(clock: ManualClock(now.addingTimeInterval(11 * 60))).drainOnce()
            try await evaluator.evaluate(now: now.addingTimeInterval(12 * 60))
            let after = try #require(try await Alert.find(queueAge.id, on: app.db))
            #expect(after.state == "resolved")
            #expect(after.resolvedAt != nil)
            #expect(try await OutboundMessage.query(on: app.db).count() == 1)
        }
    }
}
