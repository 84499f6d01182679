import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

/// The acceptance of issue 12 against the stand-ins and the real dispatcher, with an injected `now`.
@Suite("Alerts: notifications through the outbox")
struct AlertNotificationTests {
    @Test("broken credentials fire ONE Slack notification naming the integration; a second only after the cooldown; fixing them sends one \"resolved\"")
    func brokenCredentials() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            try await withSlackChannel(app, auth: fx.admin) { slack, slackID in
                let rule = try await app.createAlertRule([
                    "name": "SMS tests failing", "kind": "consecutive_failures", "threshold": 3, "integration_id": .string(fx.integrationID),
                    "cooldown": "1h", "channels": [["integration_id": .string(slackID)]],
                ], auth: fx.admin)
                let sms = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == fx.integrationID).first())
                let evaluator = app.testAlertEvaluator()
                let t0 = Date()
                func drain(at date: Date) async throws {
                    _ = try await app.testDispatcher(clock: ManualClock(date)).drainOnce()
                }

                // Working credentials: nothing fires.
                #expect(try await app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin).json["status"] as? String == "success")
                try await evaluator.evaluate(now: t0)
                #expect(try await app.alerts(ofRule: rule).isEmpty)

                // The provider stops accepting the stored credentials.
                await fx.twilio.state.update { $0.authToken = "rotated-at-the-provider" }
                for _ in 0..<3 {
                    let test = try await app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin)
                    #expect(test.json["status"] as? String == "failed", "\(test.text)")
                }
                try await evaluator.evaluate(now: t0)
                try await evaluator.evaluate(now: t0.addingTimeInterval(60))
                try await drain(at: t0.addingTimeInterval(60))
                var posts = await slack.state.posts
                #expect(posts.count == 1)
                let text = try #require(posts.first?["text"]?.stringValue)
                #expect(text.contains(sms.name))
                #expect(text.contains("SMS"))
                #expect(text.contains("https://hub.example.org/settings/integrations/\(fx.integrationID)"))
                #expect(text.contains("connection tests failed"))
                #expect(text.contains("Since: \(RFC3339Text.format(t0))"))
                #expect(text.contains("تنبيه"))
                let alert = try #require(try await app.alerts(ofRule: rule).first)
                #expect(alert.state == "open")
                #expect(alert.subject == fx.integrationID)
                #expect(alert.notificationsSent == 1)
                let message = try #require(try await OutboundMessage.query(on: app.db).filter(\.$channel == "slack").first())
                #expect(message.priority == "urgent")
                #expect(message.createdBy == nil)

                // Still broken: nothing more within the cooldown, one reminder after it.
                try await evaluator.evaluate(now: t0.addingTimeInterval(30 * 60))
                try await drain(at: t0.addingTimeInterval(30 * 60))
                #expect(await slack.state.posts.count == 1)
                try await evaluator.evaluate(now: t0.addingTimeInterval(61 * 60))
                try await evaluator.evaluate(now: t0.addingTimeInterval(62 * 60))
                try await drain(at: t0.addingTimeInterval(62 * 60))
                posts = await slack.state.posts
                #expect(posts.count == 2)
                #expect(posts.last?["text"]?.stringValue?.contains("STILL FAILING") == true)

                // Fixed: one "resolved", then silence.
                await fx.twilio.state.update { $0.authToken = "fake-twilio-auth-token" }
                #expect(try await app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin).json["status"] as? String == "success")
                try await evaluator.evaluate(now: t0.addingTimeInterval(63 * 60))
                try await evaluator.evaluate(now: t0.addingTimeInterval(200 * 60))
                try await drain(at: t0.addingTimeInterval(200 * 60))
                posts = await slack.state.posts
                #expect(posts.count == 3)
                let resolved = try #require(posts.last?["text"]?.stringValue)
                #expect(resolved.contains("RESOLVED"))
                #expect(resolved.contains(sms.name))
                #expect(resolved.contains("تم حلّ"))
                let after = try #require(try await app.alerts(ofRule: rule).first)
                #expect(after.state == "resolved")
                #expect(after.notificationsSent == 3)
                #expect(try await app.alerts(ofRule: rule).count == 1)
                // The stand-in's own log saw the same three sends.
                #expect(await slack.sends.sends.count == 3)
            }
        }
    }

    @Test("receipts_missing fires when sends succeed but no status webhook arrives, and stays silent when they do")
    func receiptsMissing() async throws {
        let port = try WebhookLoopTests.freePort()
        let base = "http://127.0.0.1:\(port)"
        try await withSMSFixture(customize: { $0.publicURL = base }) { fx in
            let app = fx.app
            try await app.server.start(address: .hostname("127.0.0.1", port: port))
            do {
                try await Self.receipts(fx)
                await app.server.shutdown()
            } catch {
                await app.server.shutdown()
                throw error
            }
        }
    }

    static func receipts(_ fx: SMSFixture) async throws {
        let app = fx.app
        try await app.disableDefaultAlertRules()
        try await withSlackChannel(app, auth: fx.admin) { slack, slackID in
            let rule = try await app.createAlertRule([
                "name": "No receipts", "kind": "receipts_missing", "threshold": 30, "window": "2h", "integration_type": "sms",
                "channels": [["integration_id": .string(slackID)]],
            ], auth: fx.admin)
            let evaluator = app.testAlertEvaluator()
            /// Sends `count` messages and drains them at `date`, or later when they fell due after it; the ids
            /// and the time they were sent.
            func send(_ count: Int, atLeast date: Date) async throws -> (ids: [String], at: Date) {
                var ids: [String] = []
                for index in 0..<count {
                    let sent = try await app.sendMessage(["channel": "sms", "to": .string("05512345\(60 + index)"), "text": "reminder"], auth: fx.admin)
                    ids.append(try #require(sent.json["public_id"] as? String))
                }
                let at = max(date, Date().addingTimeInterval(1))
                _ = try await app.testDispatcher(clock: ManualClock(at)).drainOnce()
                for id in ids { #expect(try await app.message(id).status == "sent") }
                return (ids, at)
            }
            func postDelivered(_ ids: [String]) async throws {
                for id in ids {
                    let sid = try #require(try await app.message(id).providerMessageID)
                    #expect(try await fx.twilio.postStatus("delivered", for: sid) == 200)
                }
                try await app.processWebhooks()
            }

            // Receipts arrive: silent.
            let (first, t0) = try await send(2, atLeast: Date())
            try await postDelivered(first)
            try await evaluator.evaluate(now: t0.addingTimeInterval(31 * 60))
            #expect(try await app.alerts(ofRule: rule).isEmpty)

            // Later sends are accepted but their receipts never come: silent until 30 minutes pass, then it fires.
            let (second, t1) = try await send(2, atLeast: t0.addingTimeInterval(3 * 3600))
            try await evaluator.evaluate(now: t1.addingTimeInterval(10 * 60))
            #expect(try await app.alerts(ofRule: rule).isEmpty)
            try await evaluator.evaluate(now: t1.addingTimeInterval(31 * 60))
            let alert = try #require(try await app.alerts(ofRule: rule).first)
            #expect(alert.state == "open")
            #expect(alert.value == 2)
            #expect(alert.summary.contains("no delivery receipt"))
            _ = try await app.testDispatcher(clock: ManualClock(t1.addingTimeInterval(31 * 60))).drainOnce()
            #expect(await slack.state.posts.count == 1)
            #expect(await slack.state.posts.first?["text"]?.stringValue?.contains(fx.integrationID) == true)

            // The receipts turn up: resolved once.
            try await postDelivered(second)
            try await evaluator.evaluate(now: t1.addingTimeInterval(32 * 60))
            try await evaluator.evaluate(now: t1.addingTimeInterval(33 * 60))
            #expect(try await app.alerts(ofRule: rule).map(\.state) == ["resolved"])
            _ = try await app.testDispatcher(clock: ManualClock(t1.addingTimeInterval(33 * 60))).drainOnce()
            #expect(await slack.state.posts.count == 2)
        }
    }

    @Test("credential_expiry notifies at 14, 7 and 1 days and when expired (whatever the cooldown), then resolves when renewed")
    func credentialExpiry() async throws {
        try await withSMSFixture { fx in
            let app = fx.app
            try await app.disableDefaultAlertRules()
            try await withSlackChannel(app, auth: fx.admin) { slack, slackID in
                let rule = try #require(try await AlertRule.query(on: app.db).filter(\.$kind == "credential_expiry").first())
                let patched = try await app.call(.PATCH, "api/alert-rules/\(rule.publicID)", auth: fx.admin, body: [
                    "is_enabled": true, "cooldown": "168h", "channels": [["integration_id": .string(slackID)]],
                ])
                #expect(patched.status == .ok, "\(patched.text)")
                let evaluator = app.testAlertEvaluator()
                let day: TimeInterval = 86_400
                let expires = Date().addingTimeInterval(30 * day)
                try await app.setCredentialsExpiry(fx.integrationID, expires)
                func step(_ daysBefore: Double, posts expected: Int, _ comment: Comment) async throws {
                    let now = expires.addingTimeInterval(-daysBefore * day)
                    try await evaluator.evaluate(now: now)
                    _ = try await app.testDispatcher(clock: ManualClock(now)).drainOnce()
                    #expect(await slack.state.posts.count == expected, comment)
                }
                try await step(15, posts: 0, "15 days before: nothing")
                try await step(13.9, posts: 1, "14 days before: the first notice")
                try await step(10, posts: 1, "within the cooldown, same stage: nothing")
                // Acknowledging silences reminders, not the next stage.
                let alert = try #require(try await app.alerts(ofRule: rule.publicID).first)
                let manager = try await app.bearer(role: .manager)
                #expect(try await app.call(.POST, "api/alerts/\(alert.publicID)/acknowledge", auth: manager).status == .ok)
                try await step(6.9, posts: 2, "7 days before")
                try await step(6.5, posts: 2, "still 7 days")
                try await step(0.9, posts: 3, "1 day before")
                try await step(-0.1, posts: 4, "expired")
                try await step(-0.2, posts: 4, "still expired")
                let texts = await slack.state.posts.compactMap { $0["text"]?.stringValue }
                #expect(texts[0].contains("in 14 day(s)"))
                #expect(texts[1].contains("in 7 day(s)"))
                #expect(texts[2].contains("in 1 day(s)"))
                #expect(texts[3].contains("expired"))
                #expect(try await app.alerts(ofRule: rule.publicID).map(\.state) == ["open"])

                try await app.setCredentialsExpiry(fx.integrationID, expires.addingTimeInterval(365 * day))
                try await step(-0.3, posts: 5, "renewed: resolved")
                #expect(try await app.alerts(ofRule: rule.publicID).map(\.state) == ["resolved"])
                #expect(await slack.state.posts.last?["text"]?.stringValue?.contains("RESOLVED") == true)
            }
        }
    }
}
