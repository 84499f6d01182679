import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

@Suite("Dispatcher")
struct DispatcherTests {
    static func queue(_ fx: SMSFixture, _ text: String = "reminder") async throws -> String {
        let answer = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": .string(text)], auth: fx.admin)
        #expect(answer.status == .accepted, "\(answer.text)")
        return try #require(answer.json["public_id"] as? String)
    }

    @Test("a 429 with Retry-After is retried no earlier than the provider asked, even when the back-off would be sooner")
    func retryAfterIsHonoured() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            let clock = ManualClock(Date())
            let start = clock.now
            let dispatcher = fx.app.testDispatcher(clock: clock)
            await fx.twilio.faults.set(FaultPlan(rateLimitRetryAfter: 30, remaining: 1))
            #expect(try await dispatcher.drainOnce() == 1)
            let waiting = try await fx.app.message(id)
            #expect(waiting.status == "queued")
            #expect(waiting.attempts == 1)
            #expect(waiting.lastErrorCode == "20429")
            let next = try #require(waiting.nextAttemptAt)
            #expect(next.timeIntervalSince(start) >= 30)
            // Back-off alone (base 1 s) would allow an attempt after a second; the provider said 30.
            clock.advance(29)
            #expect(try await dispatcher.drainOnce() == 0)
            clock.set(next.addingTimeInterval(0.001))
            #expect(try await dispatcher.drainOnce() == 1)
            #expect(try await fx.app.message(id).status == "sent")
            #expect(await fx.twilio.recorder.requests.count == 2)
        }
    }

    @Test("5xx, timeouts and dropped connections are retried with back-off within the ceiling; after the last attempt the message is dead")
    func retryableThenDead() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            let clock = ManualClock(Date())
            var settings = DeliverySettings.fastTests
            settings.sendTimeout = .milliseconds(300)
            let dispatcher = fx.app.testDispatcher(clock: clock, settings: settings)
            let faults: [FaultPlan] = [FaultPlan(errorRate: 1, remaining: 1), FaultPlan(dropConnection: true, remaining: 1),
                                       FaultPlan(hang: true, remaining: 1)]
            for (index, plan) in faults.enumerated() {
                await fx.twilio.faults.set(plan)
                let before = clock.now
                #expect(try await dispatcher.drainOnce() == 1)
                let row = try await fx.app.message(id)
                #expect(row.attempts == index + 1)
                if index < 2 {
                    #expect(row.status == "queued", "attempt \(index + 1): \(row.lastError ?? "")")
                    let delay = try #require(row.nextAttemptAt).timeIntervalSince(before)
                    // Full jitter: anywhere from now to the ceiling (1 s, then 2 s).
                    #expect(delay >= 0 && delay <= Double(1 << index) + 0.001, "delay \(delay)")
                    clock.advance(Double(1 << index) + 0.01)
                } else {
                    #expect(row.status == "dead", "\(row.lastError ?? "")")
                    #expect(row.lastError?.contains("timeout") == true, "\(row.lastError ?? "")")
                    #expect(row.failedAt != nil)
                }
            }
            await fx.twilio.faults.clear()
            #expect(try await dispatcher.drainOnce() == 0)
            #expect(try await fx.app.eventStatuses(id) == ["queued", "sending", "queued", "sending", "queued", "sending", "dead"])
        }
    }

    @Test("a permanent error (bad credentials, invalid recipient) fails after that one attempt with the provider's code")
    func permanentIsNotRetried() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            await fx.twilio.state.update { $0.authToken = "rotated-elsewhere" }
            let clock = ManualClock(Date())
            let dispatcher = fx.app.testDispatcher(clock: clock)
            #expect(try await dispatcher.drainOnce() == 1)
            let row = try await fx.app.message(id)
            #expect(row.status == "failed")
            #expect(row.attempts == 1)
            #expect(row.lastErrorCode == "20003")
            #expect(row.lastError?.contains("credentials") == true)
            clock.advance(3600)
            #expect(try await dispatcher.drainOnce() == 0)
            #expect(await fx.twilio.recorder.requests.count == 1)
        }
    }

    @Test("a dispatcher that dies mid-send loses its claim when the lease expires; another takes the message, and the dead one's late outcome is refused")
    func leaseExpiryAfterCrash() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            let clock = ManualClock(Date())
            let store = MessageStore(db: fx.app.db)
            // The "crashed" process claimed the message and never recorded an outcome.
            let claimed = try await store.claim(owner: "crashed-process", limit: 10, now: clock.now,
                                                leaseUntil: clock.now.addingTimeInterval(60))
            #expect(claimed.count == 1)
            let survivor = fx.app.testDispatcher(clock: clock, owner: "survivor")
            #expect(try await survivor.drainOnce() == 0)
            clock.advance(59)
            #expect(try await survivor.drainOnce() == 0)
            clock.advance(2)
            #expect(try await survivor.drainOnce() == 1)
            let row = try await fx.app.message(id)
            #expect(row.status == "sent")
            #expect(row.attempts == 2)
            let late = try await store.record(.failed(error: "late", code: nil), for: try row.requireID(), owner: "crashed-process", now: clock.now)
            #expect(late == false)
            #expect(try await fx.app.message(id).status == "sent")
            let events = try await fx.app.eventStatuses(id)
            #expect(events == ["queued", "sending", "queued", "sending", "sent"])
        }
    }

    @Test("a message whose claim expired on its last attempt ends dead without another send")
    func expiredOnLastAttempt() async throws {
        try await withSMSFixture { fx in
            let id = try await Self.queue(fx)
            let clock = ManualClock(Date())
            let store = MessageStore(db: fx.app.db)
            for _ in 0..<3 {
                _ = try await store.claim(owner: "flaky", limit: 1, now: clock.now, leaseUntil: clock.now.addingTimeInterval(60))
                clock.advance(61)
                try await store.recoverExpiredLeases(now: clock.now)
            }
            #expect(try await fx.app.testDispatcher(clock: clock).drainOnce() == 1)
            let row = try await fx.app.message(id)
            #expect(row.status == "dead")
            #expect(await fx.twilio.recorder.requests.isEmpty)
        }
    }

    @Test("scheduled messages wait for their time")
    func scheduled() async throws {
        try await withSMSFixture { fx in
            let at = Date().addingTimeInterval(3600)
            let answer = try await fx.app.sendMessage(["channel": "sms", "to": "+966551234567", "text": "later",
                                                       "scheduled_at": .string(MessageIntake.timestamp(at))], auth: fx.admin)
            let id = try #require(answer.json["public_id"] as? String)
            let clock = ManualClock(Date())
            let dispatcher = fx.app.testDispatcher(clock: clock)
            #expect(try await dispatcher.drainOnce() == 0)
            clock.set(at.addingTimeInterval(1))
            #expect(try await dispatcher.drainOnce() == 1)
            #expect(try await fx.app.message(id).status == "sent")
        }
    }

    @Test("two dispatchers (two application instances on PostgreSQL) racing over one queue send each message exactly once")
    func twoDispatchersNeverSendTwice() async throws {
        try await withSMSFixture { fx in
            let count = 120
            for index in 0..<count { _ = try await Self.queue(fx, "race-\(index)") }
            let clock = ManualClock(Date())
            let first = fx.app.testDispatcher(clock: clock, owner: "first")
            @Sendable func drain(_ dispatcher: Dispatcher) async throws -> Int {
                var total = 0
                while true {
                    let claimed = try await dispatcher.drainOnce(limit: 7)
                    if claimed == 0 { return total }
                    total += claimed
                }
            }
            let (a, b): (Int, Int)
            if case .postgres = fx.app.moeenConfiguration.database {
                // A second application: its own connection pool, as a second process would have.
                (a, b) = try await withMoeenApp(database: fx.app.moeenConfiguration.database) { other in
                    let second = other.testDispatcher(clock: clock, owner: "second")
                    async let x = drain(first)
                    async let y = drain(second)
                    return try await (x, y)
                }
            } else {
                let second = fx.app.testDispatcher(clock: clock, owner: "second")
                async let x = drain(first)
                async let y = drain(second)
                (a, b) = try await (x, y)
            }
            #expect(a + b == count)
            let bodies = await fx.twilio.state.sent.compactMap { $0.form["Body"] }
            #expect(bodies.count == count)
            #expect(Set(bodies).count == count)
            let unsent = try await OutboundMessage.query(on: fx.app.db).filter(\.$status != "sent").count()
            #expect(unsent == 0)
        }
    }

    @Test("the running dispatcher picks up a message accepted by the API, and on stop releases a claim whose send has not finished")
    func runningLoopAndGracefulStop() async throws {
        try await withSMSFixture { fx in
            var settings = DeliverySettings.fastTests
            settings.shutdownGrace = .milliseconds(200)
            // The hung send must still be in flight at the stop however slow the machine is: it never times out here.
            settings.sendTimeout = .seconds(600)
            settings.lease = .seconds(660)
            // The loop runs on the wall clock.
            let live = Dispatcher(db: fx.app.db, connectors: fx.app.connectors, secrets: { try fx.app.integrationSecrets },
                                  settings: settings, logger: Logger(label: "test.live"))
            live.start()
            let quick = try await Self.queue(fx, "quick")
            try await eventually("the running dispatcher sends a new message") {
                try await fx.app.message(quick).status == "sent"
            }
            await fx.twilio.faults.set(FaultPlan(hang: true))
            let stuck = try await Self.queue(fx, "stuck")
            live.notify()
            try await eventually("the send is in flight at the stand-in") { await fx.twilio.faults.hungCount == 1 }
            #expect(try await fx.app.message(stuck).status == "sending")
            await live.stop()
            let released = try await fx.app.message(stuck)
            #expect(released.status == "queued")
            #expect(released.leaseOwner == nil)
            #expect(try await fx.app.eventStatuses(stuck).suffix(2) == ["sending", "queued"])
            await fx.twilio.faults.clear()
        }
    }
}
