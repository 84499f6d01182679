import Fluent
import FluentSQL
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor

/// Each remaining kind fires and resolves, measured from real rows with an injected `now`.
@Suite("Alerts: each kind fires and resolves")
struct AlertKindsTests {
    /// Adds a health history point and sets the row's score.
    static func health(_ app: Application, _ integration: String, score: Int, at date: Date) async throws {
        let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == integration).first())
        let point = IntegrationHealthHistory()
        point.$integration.id = try row.requireID()
        point.score = score
        point.status = "active"
        point.recordedAt = date
        try await point.create(on: app.db)
        row.healthScore = score
        try await row.save(on: app.db)
    }

    @Test("health_below: below the threshold for the whole window fires (e-mail: one message per recipient, with a subject); a recovery resolves")
    func healthBelow() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            try await withStandIn(.email) { standIn, settings in
                let sendgrid = try #require(standIn as? SendGridStandIn)
                let email = try await app.makeIntegration(.email, settings: settings, auth: fx.admin)
                let rule = try await app.createAlertRule([
                    "name": "Weak health", "kind": "health_below", "threshold": 50, "window": "15m", "integration_type": "sms",
                    "channels": [["integration_id": .string(email), "recipients": ["ops@example.org", "lead@example.org"]]],
                ], auth: fx.admin)
                let evaluator = app.testAlertEvaluator()
                let t0 = Date()
                try await Self.health(app, fx.integrationID, score: 90, at: t0.addingTimeInterval(-3600))
                try await Self.health(app, fx.integrationID, score: 30, at: t0.addingTimeInterval(-600))
                try await evaluator.evaluate(now: t0)
                #expect(try await app.alerts(ofRule: rule).isEmpty, "below for 10 minutes only")
                try await Self.health(app, fx.integrationID, score: 20, at: t0.addingTimeInterval(60))
                try await evaluator.evaluate(now: t0.addingTimeInterval(16 * 60))
                let alert = try #require(try await app.alerts(ofRule: rule).first)
                #expect(alert.value == 20)
                #expect(alert.notificationsSent == 2)
                _ = try await app.testDispatcher(clock: ManualClock(t0.addingTimeInterval(16 * 60))).drainOnce()
                let sent = await sendgrid.state.sent
                #expect(sent.count == 2)
                let body = try #require(sent.first?.body)
                #expect(body.jsonText().contains("[Moeen Hub] Alert:"))
                #expect(body.jsonText().contains("Weak health"))

                try await Self.health(app, fx.integrationID, score: 80, at: t0.addingTimeInterval(17 * 60))
                try await evaluator.evaluate(now: t0.addingTimeInterval(18 * 60))
                #expect(try await app.alerts(ofRule: rule).map(\.state) == ["resolved"])
                _ = try await app.testDispatcher(clock: ManualClock(t0.addingTimeInterval(18 * 60))).drainOnce()
                #expect(await sendgrid.state.sent.count == 4)
            }
        }
    }

    @Test("dispatch_failure_rate: failed sends over the window fire (with enough sends); a quiet window resolves")
    func dispatchFailureRate() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            let rule = try await app.createAlertRule([
                "name": "Failing sends", "kind": "dispatch_failure_rate", "threshold": .number("0.5"), "window": "15m",
            ], auth: fx.admin)
            await fx.twilio.faults.set(FaultPlan(rejectRecipients: ["+966551234501", "+966551234502", "+966551234503"]))
            let evaluator = app.testAlertEvaluator()
            /// Sends to the numbers and drains at a time after every send was due; that time.
            func sendAndDrain(_ numbers: [String]) async throws -> Date {
                for number in numbers {
                    _ = try await app.sendMessage(["channel": "sms", "to": .string(number), "text": "x"], auth: fx.admin)
                }
                let at = Date().addingTimeInterval(5)
                _ = try await app.testDispatcher(clock: ManualClock(at)).drainOnce()
                return at
            }
            let t0 = try await sendAndDrain(["0551234501", "0551234502"])
            try await evaluator.evaluate(now: t0.addingTimeInterval(60))
            #expect(try await app.alerts(ofRule: rule).isEmpty, "two sends are too few to judge")
            let t1 = try await sendAndDrain(["0551234503", "0551234504", "0551234505"])
            try await evaluator.evaluate(now: t1.addingTimeInterval(60))
            let alert = try #require(try await app.alerts(ofRule: rule).first)
            #expect(alert.value == 0.6)
            #expect(alert.summary.contains("3 of 5"))
            try await evaluator.evaluate(now: t1.addingTimeInterval(16 * 60))
            #expect(try await app.alerts(ofRule: rule).map(\.state) == ["resolved"])
        }
    }

    @Test("dead_messages: a message that died in the window fires; when it leaves the window the alert resolves")
    func deadMessages() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            let rule = try await app.createAlertRule([
                "name": "Dead", "kind": "dead_messages", "threshold": 1, "window": "1h", "integration_id": .string(fx.integrationID),
            ], auth: fx.admin)
            await fx.twilio.faults.set(FaultPlan(errorRate: 1))
            let sent = try await app.sendMessage(["channel": "sms", "to": "0551234567", "text": "x"], auth: fx.admin)
            let id = try #require(sent.json["public_id"] as? String)
            let clock = ManualClock(Date().addingTimeInterval(5))
            for _ in 0..<DeliverySettings.fastTests.maxAttempts {
                _ = try await app.testDispatcher(clock: clock).drainOnce()
                clock.advance(60)
            }
            #expect(try await app.message(id).status == "dead")
            let evaluator = app.testAlertEvaluator()
            try await evaluator.evaluate(now: clock.now)
            let alert = try #require(try await app.alerts(ofRule: rule).first)
            #expect(alert.state == "open")
            #expect(alert.value == 1)
            try await evaluator.evaluate(now: clock.now.addingTimeInterval(2 * 3600))
            #expect(try await app.alerts(ofRule: rule).map(\.state) == ["resolved"])
        }
    }

    @Test("signature_failures: forged webhooks growing past the threshold in the window fire; a quiet window resolves")
    func signatureFailures() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            let rule = try await app.createAlertRule([
                "name": "Forged", "kind": "signature_failures", "threshold": 3, "window": "15m",
            ], auth: fx.admin)
            let evaluator = app.testAlertEvaluator()
            func forge(_ count: Int) async throws {
                for _ in 0..<count {
                    let answer = try await app.postWebhook("webhooks/twilio/\(fx.integrationID)", body: Array("MessageSid=SM1&MessageStatus=delivered".utf8),
                                                           headers: [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", "forged")])
                    #expect(answer.status == .unauthorized)
                }
            }
            let t0 = Date()
            try await forge(2)
            try await evaluator.evaluate(now: t0)
            #expect(try await app.alerts(ofRule: rule).isEmpty, "2 forged requests are under the threshold")
            try await evaluator.evaluate(now: t0.addingTimeInterval(20 * 60))
            try await forge(2)
            try await evaluator.evaluate(now: t0.addingTimeInterval(21 * 60))
            #expect(try await app.alerts(ofRule: rule).isEmpty, "the first two were before the window")
            try await forge(1)
            try await evaluator.evaluate(now: t0.addingTimeInterval(22 * 60))
            let alert = try #require(try await app.alerts(ofRule: rule).first)
            #expect(alert.value == 3)
            try await evaluator.evaluate(now: t0.addingTimeInterval(40 * 60))
            #expect(try await app.alerts(ofRule: rule).map(\.state) == ["resolved"])
        }
    }

    @Test("disabling a rule ends its open alerts without a notification")
    func disabledRule() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            let rule = try await app.createAlertRule([
                "name": "Queue", "kind": "queue_age", "threshold": 60, "integration_id": .string(fx.integrationID),
            ], auth: fx.admin)
            _ = try await app.sendMessage(["channel": "sms", "to": "0551234567", "text": "x"], auth: fx.admin)
            let evaluator = app.testAlertEvaluator()
            try await evaluator.evaluate(now: Date().addingTimeInterval(120))
            #expect(try await app.alerts(ofRule: rule).map(\.state) == ["open"])
            #expect(try await app.call(.PATCH, "api/alert-rules/\(rule)", auth: fx.admin, body: ["is_enabled": false]).status == .ok)
            try await evaluator.evaluate(now: Date().addingTimeInterval(180))
            let alert = try #require(try await app.alerts(ofRule: rule).first)
            #expect(alert.state == "resolved")
            #expect(alert.details?["resolved_reason"]?.stringValue == "rule disabled")
        }
    }
}
