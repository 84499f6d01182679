import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Delivery policies")
struct DeliveryPoliciesTests {
    static func queue(_ fx: SMSFixture, _ body: JSONValue? = nil) async throws -> String {
        let answer = try await fx.app.sendMessage(body ?? ["channel": "sms", "to": "+966551234567", "text": "reminder"], auth: fx.admin)
        #expect(answer.status == .accepted, "\(answer.text)")
        return try #require(answer.json["public_id"] as? String)
    }

    static func integrationUUID(_ fx: SMSFixture) async throws -> UUID {
        try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == fx.integrationID).first()?.requireID())
    }

    // MARK: - Rate limits

    @Test("the limiter: a burst at once, then one send every 1/R; over 60 s of backlog the steady rate is R and no second carries more than R + burst")
    func limiterPrecision() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.integrationUUID(fx)
            let store = DeliveryPolicyStore(db: fx.app.db)
            try await store.ensure(id, now: Date())
            let rate = 20.0, burst = 5
            let limit = RateLimit.limited(rate: rate, burst: burst)
            let clock = ManualClock(Date(timeIntervalSince1970: 1_900_000_000))
            let start = clock.now
            var sends: [Date] = []
            // A backlog: ask again whenever refused, at the time the limiter names.
            while clock.now < start.addingTimeInterval(61) {
                switch try await store.reserve(id, limit: limit, now: clock.now, horizon: .zero) {
                case .slot(let slot):
                    #expect(slot <= clock.now)
                    sends.append(clock.now)
                case .notBefore(let time):
                    #expect(time > clock.now)
                    clock.set(time)
                }
            }
            // The burst goes at once (less the jitter allowance: (burst − 1)/R − 50 ms of tolerance, so 3 of 5 here).
            let atOnce = sends.prefix { $0 == start }.count
            #expect(atOnce >= 3 && atOnce <= burst, "\(atOnce) at once")
            let steady = sends.filter { $0 >= start.addingTimeInterval(1) && $0 < start.addingTimeInterval(61) }
            let observed = Double(steady.count) / 60
            #expect(observed >= 0.97 * rate && observed <= rate, "observed \(observed)/s")
            var worst = 0
            for (index, send) in sends.enumerated() {
                let window = sends[index...].prefix { $0 < send.addingTimeInterval(1) }.count
                worst = max(worst, window)
            }
            #expect(worst <= Int(rate) + burst, "worst one-second window \(worst)")
        }
    }

    @Test("reservations ahead: slots are handed out 1/R apart within the horizon, then refused until a slot is near")
    func limiterReservesAhead() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.integrationUUID(fx)
            let store = DeliveryPolicyStore(db: fx.app.db)
            try await store.ensure(id, now: Date())
            let now = Date(timeIntervalSince1970: 1_900_000_000)
            let limit = RateLimit.limited(rate: 10, burst: 1)
            var slots: [Date] = []
            var refused: Date?
            for _ in 0..<30 {
                switch try await store.reserve(id, limit: limit, now: now, horizon: .seconds(2)) {
                case .slot(let slot): slots.append(slot)
                case .notBefore(let time): refused = time
                }
            }
            // Now, then one slot every 1/R plus the 1 % headroom (101 ms) as far as the 2 s horizon.
            #expect(slots.count == 20, "now plus 2 s of slots at 10/s: \(slots.count)")
            for (a, b) in zip(slots, slots.dropFirst()) { #expect(abs(b.timeIntervalSince(a) - 0.101) < 0.0015) }
            #expect(try #require(refused) > now)
        }
    }

    @Test("one limit for every application instance on the database (two on PostgreSQL): together they get the burst, not twice it")
    func limiterSharedAcrossInstances() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.integrationUUID(fx)
            let now = Date(timeIntervalSince1970: 1_900_000_000)
            // Burst 4 at 5/s: with the 50 ms jitter allowance, three sends conform at one instant.
            let limit = RateLimit.limited(rate: 5, burst: 4)
            try await DeliveryPolicyStore(db: fx.app.db).ensure(id, now: now)
            @Sendable func grab(_ db: any Database) async throws -> Int {
                var granted = 0
                for _ in 0..<10 {
                    if case .slot = try await DeliveryPolicyStore(db: db).reserve(id, limit: limit, now: now, horizon: .zero) { granted += 1 }
                }
                return granted
            }
            let total: Int
            if case .postgres = fx.app.moeenConfiguration.database {
                total = try await withMoeenApp(database: fx.app.moeenConfiguration.database) { other in
                    async let a = grab(fx.app.db)
                    async let b = grab(other.db)
                    return try await a + b
                }
            } else {
                async let a = grab(fx.app.db)
                async let b = grab(fx.app.db)
                total = try await a + b
            }
            #expect(total == 3)
        }
    }

    @Test("the dispatcher waits for its slot (not spending attempts) and defers what is beyond the horizon")
    func dispatcherHonoursTheLimit() async throws {
        try await withSMSFixture(rateLimit: "2") { fx in
            let patch = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin,
                                              body: ["config": ["rate_limit_per_second": "2", "rate_limit_burst": "1"]])
            #expect(patch.status == .ok, "\(patch.text)")
            for index in 0..<6 { _ = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": .string("m\(index)")]) }
            let clock = ManualClock(Date().addingTimeInterval(600))
            let waited = ManualClock(Date(timeIntervalSince1970: 0))
            var settings = DeliverySettings.fastTests
            settings.rateHorizon = .milliseconds(1100)
            // Sleeping moves the test clock instead of the wall clock, and is counted.
            let dispatcher = Dispatcher(db: fx.app.db, connectors: fx.app.connectors, secrets: { try fx.app.integrationSecrets },
                                        settings: settings, clock: { clock.now },
                                        sleeper: { duration in waited.advance(duration.seconds) },
                                        logger: Logger(label: "test"), owner: "limited")
            #expect(try await dispatcher.drainOnce() == 6)
            // Slots now, +0.505 s, +1.01 s fit the 1.1 s horizon; the other three went back to the queue.
            #expect(await fx.twilio.state.sent.count == 3)
            // The three sends waited 0, 0.5 and 1 s for their slots (each sleep advances the test's clock).
            #expect(waited.now.timeIntervalSince1970 >= 1.5 && waited.now.timeIntervalSince1970 < 1.6, "\(waited.now.timeIntervalSince1970)")
            let queued = try await OutboundMessage.query(on: fx.app.db).filter(\.$status == "queued").all()
            #expect(queued.count == 3)
            #expect(queued.allSatisfy { $0.attempts == 0 })
            #expect(queued.allSatisfy { ($0.nextAttemptAt ?? .distantPast) > clock.now })
        }
    }

    // MARK: - Back-pressure and the circuit breaker

    @Test("a 429 with Retry-After pauses the whole integration until then, shown as delivery_state")
    func backPressurePausesTheIntegration() async throws {
        try await withSMSFixture { fx in
            let first = try await Self.queue(fx)
            let clock = ManualClock(Date())
            let dispatcher = fx.app.testDispatcher(clock: clock)
            await fx.twilio.faults.set(FaultPlan(rateLimitRetryAfter: 30, remaining: 1))
            #expect(try await dispatcher.drainOnce() == 1)
            let second = try await Self.queue(fx)
            clock.advance(5)
            #expect(try await dispatcher.drainOnce() == 0, "the integration waits, not only the first message")
            let shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "paused")
            #expect((shown.json["delivery_state_reason"] as? String)?.contains("429") == true)
            #expect(shown.json["delivery_state_until"] is String)
            #expect(try await fx.app.message(second).attempts == 0)
            clock.advance(26)
            #expect(try await dispatcher.drainOnce() == 2)
            #expect(try await fx.app.message(first).status == "sent")
            #expect(try await fx.app.message(second).status == "sent")
        }
    }

    @Test("the breaker opens after N retryable failures in a row, holds the queue without spending attempts, half-opens for one trial after the cooldown, and closes on success")
    func circuitBreaker() async throws {
        try await withSMSFixture { fx in
            var settings = DeliverySettings.fastTests
            settings.circuitFailures = 3
            settings.maxAttempts = 10
            settings.circuitCooldown = .seconds(60)
            // Ahead of the wall clock, so the messages queued below are due however slow the machine.
            let clock = ManualClock(Date().addingTimeInterval(600))
            let dispatcher = fx.app.testDispatcher(clock: clock, settings: settings)
            await fx.twilio.faults.set(FaultPlan(errorRate: 1))
            for index in 0..<3 { _ = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": .string("f\(index)")]) }
            #expect(try await dispatcher.drainOnce() == 3)
            var shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "paused", "\(shown.text)")
            let held = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": "held"])
            clock.advance(30)
            #expect(try await dispatcher.drainOnce() == 0)
            #expect(try await fx.app.message(held).attempts == 0)
            // Cooldown over: one trial, which fails: paused again.
            clock.advance(31)
            #expect(try await dispatcher.drainOnce() == 1)
            shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "paused")
            // The provider recovers: the next trial succeeds and the breaker closes; the rest go.
            await fx.twilio.faults.clear()
            clock.advance(61)
            let trial = try await dispatcher.drainOnce()
            #expect(trial == 1, "one trial send decides")
            shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "active")
            clock.advance(10)
            #expect(try await dispatcher.drainOnce() == 3)
            let unsent = try await OutboundMessage.query(on: fx.app.db).filter(\.$status != "sent").count()
            #expect(unsent == 0)
        }
    }

    @Test("one credentials failure opens the breaker at once; a successful test connection closes it, and so does saving new settings")
    func credentialsOpenAndTestCloses() async throws {
        try await withSMSFixture { fx in
            let clock = ManualClock(Date().addingTimeInterval(600))
            let dispatcher = fx.app.testDispatcher(clock: clock)
            await fx.twilio.state.update { $0.authToken = "rotated" }
            _ = try await Self.queue(fx)
            #expect(try await dispatcher.drainOnce() == 1)
            var shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "paused")
            _ = try await Self.queue(fx)
            #expect(try await dispatcher.drainOnce() == 0)

            await fx.twilio.state.update { $0.authToken = "fake-twilio-auth-token" }
            let test = try await fx.app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin)
            #expect(test.json["success"] as? Bool == true, "\(test.text)")
            shown = try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin)
            #expect(shown.json["delivery_state"] as? String == "active")
            #expect(try await dispatcher.drainOnce() == 1)

            // Open it again, then save new settings: closed.
            await fx.twilio.state.update { $0.authToken = "rotated-again" }
            _ = try await Self.queue(fx)
            #expect(try await dispatcher.drainOnce() == 1)
            #expect(try await fx.app.call(.GET, "api/integrations/\(fx.integrationID)", auth: fx.admin).json["delivery_state"] as? String == "paused")
            let saved = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin,
                                              body: ["config": ["auth_token": "rotated-again"]])
            #expect(saved.status == .ok)
            #expect(saved.json["delivery_state"] as? String == "active")
        }
    }

    // MARK: - Fallback

    static func withEmail<R>(_ fx: SMSFixture, _ body: () async throws -> R) async throws -> R {
        try await withStandIn(.email) { _, settings in
            var settings = settings
            settings["rate_limit_per_second"] = "unlimited"
            _ = try await TestConnectionTests.create(fx.app, auth: fx.admin, type: .email, settings: settings)
            return try await body()
        }
    }

    @Test("a failed message falls back to the next channel once: a child with parent_id, a fallback event on both, the chain shown")
    func fallbackOnFailure() async throws {
        try await withSMSFixture { fx in
            try await Self.withEmail(fx) {
                await fx.twilio.state.update { $0.fromNumbers = [] }
                let parent = try await Self.queue(fx, ["channel": "sms", "to": "0551234567", "text": "موعدك غداً",
                                                       "fallback_channels": ["email"], "fallback_to": ["email": "Family@Example.org"]])
                let clock = ManualClock(Date())
                let dispatcher = fx.app.testDispatcher(clock: clock)
                #expect(try await dispatcher.drainOnce() == 1)
                #expect(try await fx.app.message(parent).status == "failed")
                let parentID = try await fx.app.message(parent).requireID()
                let child = try #require(try await OutboundMessage.query(on: fx.app.db).filter(\.$parentID == parentID).first())
                #expect(child.channel == "email")
                #expect(child.recipient == "family@example.org")
                #expect(child.text == "موعدك غداً")
                #expect(try await dispatcher.drainOnce() == 1)
                #expect(try await fx.app.message(child.publicID).status == "sent")

                let shown = try await fx.app.call(.GET, "api/messages/\(parent)", auth: fx.admin)
                let chain = try #require(shown.json["chain"] as? [[String: Any]])
                #expect(chain.compactMap { $0["public_id"] as? String } == [parent, child.publicID])
                let parentEvents = try #require(shown.json["events"] as? [[String: Any]])
                #expect(parentEvents.contains { ($0["detail"] as? String)?.contains("fallback") == true && $0["source"] as? String == "dispatcher" })
                let childShown = try await fx.app.call(.GET, "api/messages/\(child.publicID)", auth: fx.admin)
                #expect(childShown.json["parent_id"] as? String == parentID.uuidString)
                let childEvents = try #require(childShown.json["events"] as? [[String: Any]])
                #expect((childEvents.first?["detail"] as? String)?.contains("fallback") == true)
                // Made once, whatever happens next.
                #expect(try await Fallback(db: fx.app.db, settings: .fastTests).make(for: parentID, because: "again", now: clock.now) == nil)
            }
        }
    }

    @Test("a dead message falls back too, and so does one not delivered within fallback_after")
    func fallbackOnDeadAndOnTimeout() async throws {
        try await withSMSFixture { fx in
            try await Self.withEmail(fx) {
                let clock = ManualClock(Date().addingTimeInterval(600))
                let dispatcher = fx.app.testDispatcher(clock: clock)
                await fx.twilio.faults.set(FaultPlan(errorRate: 1))
                let dying = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": "a",
                                                      "fallback_channels": ["email"], "fallback_to": ["email": "a@example.org"]])
                for _ in 0..<3 {
                    try await dispatcher.drainOnce()
                    clock.advance(10)
                }
                #expect(try await fx.app.message(dying).status == "dead")
                let dyingID = try await fx.app.message(dying).requireID()
                #expect(try await OutboundMessage.query(on: fx.app.db).filter(\.$parentID == dyingID).count() == 1)

                await fx.twilio.faults.clear()
                let slow = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": "b",
                                                     "fallback_channels": ["email"], "fallback_to": ["email": "b@example.org"],
                                                     "fallback_after": 120])
                clock.set(Date().addingTimeInterval(1))
                try await dispatcher.drainOnce()
                #expect(try await fx.app.message(slow).status == "sent")
                let slowID = try await fx.app.message(slow).requireID()
                clock.advance(60)
                try await dispatcher.drainOnce()
                #expect(try await OutboundMessage.query(on: fx.app.db).filter(\.$parentID == slowID).count() == 0)
                clock.advance(61)
                try await dispatcher.drainOnce()
                #expect(try await OutboundMessage.query(on: fx.app.db).filter(\.$parentID == slowID).count() == 1)
            }
        }
    }

    @Test("with patient_id, the channel is the patient's preferred one and the recipients (fallback ones too) their phone and e-mail; what the patient lacks is a 422")
    func patientRecipients() async throws {
        try await withSMSFixture { fx in
            try await Self.withEmail(fx) {
                let patient = Patient()
                patient.publicID = PublicID.make(.patient)
                patient.fullName = "عبدالله"
                patient.phone = "055-123-4567"
                patient.email = "Guardian@Example.org"
                patient.preferredChannel = "sms"
                try await patient.create(on: fx.app.db)
                let answer = try await fx.app.sendMessage(["patient_id": .string(patient.publicID), "text": "موعد العلاج الطبيعي",
                                                           "fallback_channels": ["email"]], auth: fx.admin)
                #expect(answer.status == .accepted, "\(answer.text)")
                #expect(answer.json["channel"] as? String == "sms")
                #expect(answer.json["to"] as? String == "+966551234567")
                let row = try await fx.app.message(try #require(answer.json["public_id"] as? String))
                #expect(row.fallbackTo?["email"]?.stringValue == "guardian@example.org")
                #expect(row.patientID == patient.id)

                let noPhone = Patient()
                noPhone.publicID = PublicID.make(.patient)
                noPhone.fullName = "بلا هاتف"
                try await noPhone.create(on: fx.app.db)
                let refused = try await fx.app.sendMessage(["patient_id": .string(noPhone.publicID), "text": "x"], auth: fx.admin)
                #expect(refused.status == .unprocessableEntity)
                #expect(((refused.json["error"] as? [String: Any])?["fields"] as? [String: String])?["channel"] != nil)
                let smsToNoPhone = try await fx.app.sendMessage(["patient_id": .string(noPhone.publicID), "channel": "sms", "text": "x"], auth: fx.admin)
                #expect(((smsToNoPhone.json["error"] as? [String: Any])?["fields"] as? [String: String])?["to"] != nil)
            }
        }
    }

    // MARK: - Quiet hours

    @Test("quiet hours: normal messages falling due inside wait for the end (next_attempt_at shows when); urgent ones go at once")
    func quietHoursAtIntake() async throws {
        try await withSMSFixture { fx in
            let riyadh = try #require(TimeZone(identifier: "Asia/Riyadh"))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = riyadh
            let now = Date()
            let start = calendar.date(byAdding: .hour, value: -1, to: now) ?? now
            let end = calendar.date(byAdding: .hour, value: 2, to: now) ?? now
            let format: (Date) -> String = { date in
                let parts = calendar.dateComponents([.hour, .minute], from: date)
                return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
            }
            let put = try await fx.app.call(.PUT, "api/settings/delivery", auth: fx.admin, body: [
                "quiet_hours": ["enabled": true, "start": .string(format(start)), "end": .string(format(end)), "timezone": "Asia/Riyadh"],
            ])
            #expect(put.status == .ok, "\(put.text)")
            let viewer = try await fx.app.bearer(role: .viewer)
            let read = try await fx.app.call(.GET, "api/settings/delivery", auth: viewer)
            #expect((read.json["quiet_hours"] as? [String: Any])?["enabled"] as? Bool == true)
            #expect(try await fx.app.call(.PUT, "api/settings/delivery", auth: viewer, body: ["quiet_hours": ["enabled": false, "start": "21:00", "end": "08:00"]]).status == .forbidden)

            let normal = try await Self.queue(fx)
            let next = try #require(try await fx.app.message(normal).nextAttemptAt)
            #expect(next > now.addingTimeInterval(3600), "held to the end of the window: \(next)")
            #expect(next <= end.addingTimeInterval(60))
            let urgent = try await Self.queue(fx, ["channel": "sms", "to": "+966551234567", "text": "urgent", "priority": "urgent"])
            #expect(try #require(try await fx.app.message(urgent).nextAttemptAt) <= Date())
            let clock = ManualClock(Date())
            #expect(try await fx.app.testDispatcher(clock: clock).drainOnce() == 1)
            #expect(try await fx.app.message(urgent).status == "sent")
            #expect(try await fx.app.message(normal).status == "queued")
        }
    }

    @Test("a message falling due in quiet hours (a retry, a scheduled one) is held by the dispatcher without spending an attempt, across midnight in Asia/Riyadh")
    func quietHoursAtDispatch() async throws {
        try await withSMSFixture { fx in
            let put = try await fx.app.call(.PUT, "api/settings/delivery", auth: fx.admin, body: [
                "quiet_hours": ["enabled": true, "start": "21:00", "end": "08:00", "days": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], "timezone": "Asia/Riyadh"],
            ])
            #expect(put.status == .ok, "\(put.text)")
            // 2030-01-01 23:30 in Riyadh (UTC+3) is 20:30 UTC; the window ends 2030-01-02 08:00 Riyadh = 05:00 UTC.
            let lateEvening = try #require(RFC3339.parse("2030-01-01T20:30:00Z"))
            let answer = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "x", "scheduled_at": "2030-01-01T20:30:00Z"], auth: fx.admin)
            let id = try #require(answer.json["public_id"] as? String)
            #expect(answer.json["next_attempt_at"] as? String == "2030-01-02T05:00:00Z")
            // Even if it comes up inside the window (say the settings changed after it was queued):
            let row = try await fx.app.message(id)
            row.nextAttemptAt = lateEvening
            try await row.save(on: fx.app.db)
            let clock = ManualClock(lateEvening)
            let dispatcher = fx.app.testDispatcher(clock: clock)
            #expect(try await dispatcher.drainOnce() == 1)
            let held = try await fx.app.message(id)
            #expect(held.status == "queued")
            #expect(held.attempts == 0)
            #expect(held.nextAttemptAt == RFC3339.parse("2030-01-02T05:00:00Z"))
            clock.set(try #require(RFC3339.parse("2030-01-02T05:00:01Z")))
            #expect(try await dispatcher.drainOnce() == 1)
            #expect(try await fx.app.message(id).status == "sent")
        }
    }

    // MARK: - Opt-outs

    @Test("opt-outs: every spelling of a number matches; queued messages are cancelled with the reason; new ones are refused (422 recipient_opted_out); removing it lets them through")
    func optOuts() async throws {
        try await withSMSFixture { fx in
            let staff = try await fx.app.bearer(role: .staff)
            let queued = try await Self.queue(fx)
            let added = try await fx.app.call(.POST, "api/opt-outs", auth: staff, body: ["channel": "sms", "address": "055 123 4567", "reason": "asked by phone"])
            #expect(added.status == .created, "\(added.text)")
            #expect(added.json["address"] as? String == "+966551234567")
            #expect(added.json["cancelled_messages"] as? Int == 1)
            let cancelled = try await fx.app.message(queued)
            #expect(cancelled.status == "cancelled")
            #expect(cancelled.lastErrorCode == "recipient_opted_out")
            let again = try await fx.app.call(.POST, "api/opt-outs", auth: staff, body: ["channel": "sms", "address": "+966551234567"])
            #expect(again.status == .ok)

            let refused = try await fx.app.sendMessage(["channel": "sms", "to": "00966551234567", "text": "x"], auth: staff)
            #expect(refused.status == .unprocessableEntity)
            #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "recipient_opted_out")
            let otherChannel = try await fx.app.call(.GET, "api/opt-outs?channel=sms", auth: staff)
            #expect((otherChannel.json["data"] as? [[String: Any]])?.count == 1)

            for (body, field) in [(["channel": "fax", "address": "+966551234567"], "channel"), (["channel": "sms", "address": "nope"], "address"),
                                  (["channel": "email", "address": "not-an-address"], "address")] as [(JSONValue, String)] {
                let bad = try await fx.app.call(.POST, "api/opt-outs", auth: staff, body: body)
                #expect(bad.status == .unprocessableEntity)
                #expect(((bad.json["error"] as? [String: Any])?["fields"] as? [String: String])?[field] != nil, "\(bad.text)")
            }
            let viewer = try await fx.app.bearer(role: .viewer)
            #expect(try await fx.app.call(.POST, "api/opt-outs", auth: viewer, body: ["channel": "sms", "address": "+966551234568"]).status == .forbidden)
            let id = try #require(added.json["public_id"] as? String)
            #expect(try await fx.app.call(.DELETE, "api/opt-outs/\(id)", auth: staff).status == .noContent)
            #expect(try await fx.app.sendMessage(["channel": "sms", "to": "0551234567", "text": "x"], auth: staff).status == .accepted)
        }
    }

    @Test("an opt-out arriving after a message was claimed still stops it: the dispatcher cancels instead of sending")
    func optOutBeforeSend() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            let row = try await fx.app.message(id)
            // Recorded directly, as a webhook's STOP would be, without touching the queue.
            let optOut = RecipientOptOut()
            optOut.publicID = PublicID.make(.optOut, randomHexDigits: 12)
            optOut.channel = "sms"
            optOut.address = row.recipient
            optOut.source = "webhook"
            try await optOut.create(on: fx.app.db)
            #expect(try await fx.app.testDispatcher(clock: ManualClock(Date())).drainOnce() == 1)
            #expect(try await fx.app.message(id).status == "cancelled")
            #expect(await fx.twilio.state.sent.isEmpty)
        }
    }

    // MARK: - Validation

    @Test("validation names the field: bad rate, burst out of range, unknown fallback channel, invalid fallback recipient, bad time of day, unknown time zone")
    func validation() async throws {
        try await withSMSFixture { fx in
            for (config, field) in [(["rate_limit_per_second": "0"], "rate_limit_per_second"), (["rate_limit_per_second": "1001"], "rate_limit_per_second"),
                                    (["rate_limit_per_second": "fast"], "rate_limit_per_second"), (["rate_limit_burst": "0"], "rate_limit_burst"),
                                    (["rate_limit_burst": "1001"], "rate_limit_burst"), (["rate_limit_burst": "2.5"], "rate_limit_burst")] {
                let answer = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin,
                                                   body: ["config": .object(config.mapValues(JSONValue.string))])
                #expect(answer.status == .unprocessableEntity, "\(config): \(answer.text)")
                #expect(((answer.json["error"] as? [String: Any])?["fields"] as? [String: String])?["config.\(field)"] != nil, "\(answer.text)")
            }
            let fine = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin,
                                             body: ["config": ["rate_limit_per_second": "0.5", "rate_limit_burst": "3"]])
            #expect(fine.status == .ok, "\(fine.text)")

            let messages: [(JSONValue, String)] = [
                (["channel": "sms", "to": "+966551234567", "text": "x", "fallback_channels": ["pigeon"]], "fallback_channels[0]"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "fallback_channels": ["email"], "fallback_to": ["email": "not an address"]], "fallback_to.email"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "fallback_channels": ["whatsapp"], "fallback_to": ["whatsapp": "123"]], "fallback_to.whatsapp"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "fallback_channels": ["email"]], "fallback_to.email"),
                (["channel": "sms", "to": "+966551234567", "text": "x", "fallback_after": 60], "fallback_after"),
            ]
            for (body, field) in messages {
                let answer = try await fx.app.sendMessage(body, auth: fx.admin)
                #expect(answer.status == .unprocessableEntity, "\(body.jsonText())")
                #expect(((answer.json["error"] as? [String: Any])?["fields"] as? [String: String])?[field] != nil, "\(field): \(answer.text)")
            }
            let settings: [(JSONValue, String)] = [
                (["quiet_hours": ["enabled": true, "start": "25:00", "end": "08:00"]], "quiet_hours.start"),
                (["quiet_hours": ["enabled": true, "start": "21:00", "end": "8am"]], "quiet_hours.end"),
                (["quiet_hours": ["enabled": true, "start": "21:00", "end": "08:00", "timezone": "Mars/Olympus"]], "quiet_hours.timezone"),
                (["quiet_hours": ["enabled": true, "start": "21:00", "end": "08:00", "days": ["funday"]]], "quiet_hours.days[0]"),
            ]
            for (body, field) in settings {
                let answer = try await fx.app.call(.PUT, "api/settings/delivery", auth: fx.admin, body: body)
                #expect(answer.status == .unprocessableEntity, "\(body.jsonText())")
                #expect(((answer.json["error"] as? [String: Any])?["fields"] as? [String: String])?[field] != nil, "\(field): \(answer.text)")
            }
        }
    }
}
