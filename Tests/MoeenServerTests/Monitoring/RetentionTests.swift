import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import SQLKit
import Testing
import Vapor

/// Retention: exactly what is older than `MOEEN_RETENTION_DAYS` goes (an injected `now`), in batches, on
/// both databases; finished messages keep their row but lose their content; audit logs stay.
@Suite("Retention")
struct RetentionTests {
    static let day: TimeInterval = 86_400

    /// Dates the rows of `table` with these ids at `date`.
    static func date(_ app: Application, _ table: String, column: String = "created_at", ids: [UUID], _ date: Date) async throws {
        let sql = try #require(app.db as? any SQLDatabase)
        try await sql.update(table).set(SQLIdentifier(column), to: SQLBind(date)).where("id", .in, ids).run()
    }

    static func ids(_ app: Application, _ table: String) async throws -> Set<UUID> {
        struct Row: Decodable { let id: UUID }
        let sql = try #require(app.db as? any SQLDatabase)
        return Set(try await sql.select().column("id").from(table).all(decoding: Row.self).map(\.id))
    }

    /// A webhook event and an inbound reply of `integration`, received at `at`.
    static func insertWebhookRows(_ app: Application, integration: UUID, at: Date) async throws -> (event: UUID, inbound: UUID) {
        let sql = try #require(app.db as? any SQLDatabase)
        let event = UUID(), inbound = UUID()
        try await sql.insert(into: "webhook_events")
            .columns("id", "public_id", "provider", "integration_config_id", "event_id", "event_type", "payload",
                     "received_at", "process_after", "processed_at", "outcome", "created_at", "updated_at")
            .values(SQLBind(event), SQLBind(PublicID.make(.webhookEvent)), SQLBind("twilio"), SQLBind(integration),
                    SQLBind("evt-\(event)"), SQLBind("status"), SQLLiteral.string("{}"), SQLBind(at), SQLBind(at), SQLBind(at),
                    SQLBind("applied"), SQLBind(at), SQLBind(at))
            .run()
        try await sql.insert(into: "inbound_messages")
            .columns("id", "public_id", "channel", "integration_config_id", "webhook_event_id", "from_address", "text",
                     "received_at", "created_at", "updated_at")
            .values(SQLBind(inbound), SQLBind(PublicID.make(.inboundMessage)), SQLBind("sms"), SQLBind(integration), SQLBind(event),
                    SQLBind("+966551234567"), SQLBind("شكراً"), SQLBind(at), SQLBind(at), SQLBind(at))
            .run()
        return (event, inbound)
    }

    @Test("deletes exactly what is older than the setting and blanks old finished messages; newer rows, queued messages and audit logs stay")
    func exactCutoff() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            let now = Date()
            let cutoff = now.addingTimeInterval(-90 * Self.day)
            let older = cutoff.addingTimeInterval(-1), newer = cutoff.addingTimeInterval(1)
            let integration = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == fx.integrationID).first()).requireID()

            // Two stored tests: two log rows and two history points, one of each dated either side of the cutoff.
            for _ in 0..<2 {
                let tested = try await app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin)
                #expect(tested.status == .ok, "\(tested.text)")
            }
            let logs = try await IntegrationTestLog.query(on: app.db).filter(\.$integration.$id == integration).all().map { try $0.requireID() }
            let points = try await IntegrationHealthHistory.query(on: app.db).filter(\.$integration.$id == integration).all().map { try $0.requireID() }
            #expect(logs.count == 2 && points.count == 2)
            try await Self.date(app, "integration_test_logs", ids: [logs[0]], older)
            try await Self.date(app, "integration_test_logs", ids: [logs[1]], newer)
            try await Self.date(app, "integration_health_history", column: "recorded_at", ids: [points[0]], older)
            try await Self.date(app, "integration_health_history", column: "recorded_at", ids: [points[1]], newer)

            let old = try await Self.insertWebhookRows(app, integration: integration, at: older)
            let recent = try await Self.insertWebhookRows(app, integration: integration, at: newer)

            // Messages: two sent (one old, one recent) and one old but still queued.
            let oldSent = try await DispatcherTests.queue(fx, "old reminder for أحمد")
            let newSent = try await DispatcherTests.queue(fx, "recent reminder")
            #expect(try await fx.app.testDispatcher(clock: ManualClock(Date())).drainOnce() == 2)
            let oldQueued = try await app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "queued long ago",
                                                       "scheduled_at": .string(MessageIntake.timestamp(now.addingTimeInterval(3600)))],
                                                      auth: fx.admin)
            let queuedID = try #require(oldQueued.json["public_id"] as? String)
            let oldIDs = try await [app.message(oldSent).requireID(), app.message(queuedID).requireID()]
            try await Self.date(app, "outbound_messages", ids: oldIDs, older)
            let auditsBefore = try await Self.ids(app, "audit_logs")

            let report = try await Retention(db: app.db, days: 90, batchSize: 1).run(now: now)
            #expect(report.deleted["integration_test_logs"] == 1)
            #expect(report.deleted["integration_health_history"] == 1)
            #expect(report.deleted["webhook_events"] == 1)
            #expect(report.deleted["inbound_messages"] == 1)
            #expect(report.redactedMessages == 1)
            #expect(!report.more)

            #expect(try await Self.ids(app, "integration_test_logs") == [logs[1]])
            #expect(try await Self.ids(app, "integration_health_history") == [points[1]])
            #expect(try await Self.ids(app, "webhook_events") == [recent.event])
            #expect(try await Self.ids(app, "inbound_messages") == [recent.inbound])
            #expect(!(try await Self.ids(app, "webhook_events")).contains(old.event))
            let blanked = try await app.message(oldSent)
            #expect(blanked.text == Retention.marker)
            #expect(blanked.status == "sent")
            #expect(blanked.recipient == "+966551234567")
            #expect(try await app.message(newSent).text == "recent reminder")
            #expect(try await app.message(queuedID).text == "queued long ago")
            #expect(try await Self.ids(app, "audit_logs") == auditsBefore)

            // A second run finds nothing more.
            let again = try await Retention(db: app.db, days: 90).run(now: now)
            #expect(again.deleted.values.allSatisfy { $0 == 0 } && again.redactedMessages == 0)
        }
    }

    @Test("a run that spends its batch budget says so, and the next run finishes the work")
    func batches() async throws {
        try await withSMSFixture { fx in
            let now = Date()
            for _ in 0..<5 {
                _ = try await fx.app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin)
            }
            let logs = Array(try await Self.ids(fx.app, "integration_test_logs"))
            #expect(logs.count == 5)
            try await Self.date(fx.app, "integration_test_logs", ids: logs, now.addingTimeInterval(-31 * Self.day))
            let first = try await Retention(db: fx.app.db, days: 30, batchSize: 2, maxBatches: 2).run(now: now)
            #expect(first.deleted["integration_test_logs"] == 4)
            #expect(first.more)
            let second = try await Retention(db: fx.app.db, days: 30, batchSize: 2, maxBatches: 2).run(now: now)
            #expect(second.deleted["integration_test_logs"] == 1)
            #expect(!second.more)
            #expect(try await Self.ids(fx.app, "integration_test_logs").isEmpty)
        }
    }

    @Test("MOEEN_RETENTION_DAYS and MOEEN_SCHEDULER are read once at start, and bad values stop it naming the variable")
    func configuration() throws {
        let defaults = try MoeenConfiguration.parse(environment: [:], environmentName: "testing")
        #expect(defaults.monitoring.retentionDays == 90)
        #expect(defaults.monitoring.schedulerEnabled)
        let set = try MoeenConfiguration.parse(environment: ["MOEEN_RETENTION_DAYS": "30", "MOEEN_SCHEDULER": "false"], environmentName: "testing")
        #expect(set.monitoring.retentionDays == 30)
        #expect(!set.monitoring.schedulerEnabled)
        for bad in ["0", "-1", "ninety", "3651"] {
            #expect(throws: ConfigurationError.self) {
                try MoeenConfiguration.parse(environment: ["MOEEN_RETENTION_DAYS": bad], environmentName: "testing")
            }
        }
    }
}
