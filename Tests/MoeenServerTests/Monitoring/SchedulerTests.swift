import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor

/// The scheduler: scheduled health checks logged like manual tests (`health_check`, no user) that move the
/// health, each interval probed once across application instances, leases that expire, Slack never posted to.
@Suite("Scheduled health checks")
struct SchedulerTests {
    /// A scheduler over `app` running the real jobs, with a fixed jitter draw (half of the 10 %).
    static func scheduler(_ app: Application, owner: String, interval: Duration = .seconds(10)) -> Scheduler {
        Scheduler(db: app.db, settings: Scheduler.Settings(healthInterval: interval, providerTimeout: .seconds(30)),
                  work: .of(app), owner: owner, random: { 0.5 }, logger: Logger(label: "test.scheduler"))
    }

    /// The integration's scheduled-check logs, oldest first.
    static func healthLogs(_ app: Application, _ publicID: String) async throws -> [IntegrationTestLog] {
        let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == publicID).first())
        return try await IntegrationTestLog.query(on: app.db)
            .filter(\.$integration.$id == row.requireID())
            .filter(\.$testType == "health_check")
            .sort(\.$createdAt).all()
    }

    @Test("a scheduled check is logged as health_check with no user, moves the score and history, and never posts to Slack")
    func scheduledCheckIsLogged() async throws {
        let slack = SlackStandIn()
        let slackURL = try await slack.start()
        defer { Task { try? await slack.shutdown() } }
        try await withSMSFixture { fx in
            let slackID = try await TestConnectionTests.create(fx.app, auth: fx.admin, type: .slack,
                                                               settings: slack.workingSettings(baseURL: slackURL))
            let scheduler = Self.scheduler(fx.app, owner: "only")
            let start = Date()
            // The first pass registers the jobs; the checks are due within a tenth of the interval.
            let first = try await scheduler.tick(now: start)
            #expect(first.map(\.job).allSatisfy { !$0.hasPrefix(Scheduler.healthPrefix) })
            let ran = try await scheduler.tick(now: start.addingTimeInterval(1.5))
            #expect(ran.filter { $0.job.hasPrefix(Scheduler.healthPrefix) }.count == 2, "\(ran)")
            #expect(ran.allSatisfy { $0.error == nil }, "\(ran)")

            for id in [fx.integrationID, slackID] {
                let logs = try await Self.healthLogs(fx.app, id)
                #expect(logs.count == 1)
                let log = try #require(logs.first)
                #expect(log.status == "success", "\(log.errorMessage ?? "")")
                #expect(log.$testedBy.id == nil)
                #expect(log.configSource == "stored")
                let scheduled = log.requestData?["scheduled"]
                #expect(scheduled?["process"] == .string("only"))
                #expect(scheduled?["due_at"] != nil)
                let row = try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == id).first())
                #expect(row.lastTestStatus == "success")
                #expect(row.healthScore >= 90)
                #expect(row.status == "active")
                let history = try await IntegrationHealthHistory.query(on: fx.app.db).filter(\.$integration.$id == row.requireID()).count()
                #expect(history >= 1)
            }
            // Slack's scheduled check posted the empty payload, which a live hook refuses: nothing reached the channel.
            #expect(await slack.state.posts.isEmpty)
            // The API shows the scheduled check in the test log like any other.
            let listed = try await fx.app.call(.GET, "api/integrations/\(slackID)/logs", auth: fx.admin)
            #expect(listed.text.contains("health_check"), "\(listed.text)")
        }
    }

    @Test("two application instances ticking together probe each integration once per interval")
    func oncePerIntervalAcrossInstances() async throws {
        try await withSMSFixture { fx in
            let target = fx.app.moeenConfiguration.database
            let start = Date()
            @Sendable func run(_ a: Scheduler, _ b: Scheduler) async throws -> [Scheduler.Ran] {
                var all: [Scheduler.Ran] = []
                for step in 0...100 {
                    let now = start.addingTimeInterval(Double(step))
                    async let x = a.tick(now: now)
                    async let y = b.tick(now: now)
                    all += try await x + y
                }
                return all
            }
            let ran: [Scheduler.Ran]
            if case .postgres = target {
                // A second application with its own connection pool, as a second process has.
                ran = try await withMoeenApp(database: target) { other in
                    try await run(Self.scheduler(fx.app, owner: "first"), Self.scheduler(other, owner: "second"))
                }
            } else {
                ran = try await run(Self.scheduler(fx.app, owner: "first"), Self.scheduler(fx.app, owner: "second"))
            }
            let checks = ran.filter { $0.job.hasPrefix(Scheduler.healthPrefix) }.map(\.claimedAt).sorted()
            // Due at 0.5 s, then every 10.5 s (interval plus the fixed half of the 10 % jitter), claimed on the
            // next whole second: 1, 12, 23, … 100 — ten checks, never two in one interval.
            #expect(checks.count == 10, "\(checks.map { $0.timeIntervalSince(start) })")
            for (earlier, later) in zip(checks, checks.dropFirst()) {
                #expect(later.timeIntervalSince(earlier) >= 10)
            }
            #expect(try await Self.healthLogs(fx.app, fx.integrationID).count == 10)
            // The alert evaluation ran once per its own interval too (10 s here: at most a minute).
            let alerts = ran.filter { $0.job == Scheduler.alertsJob }.map(\.claimedAt).sorted()
            for (earlier, later) in zip(alerts, alerts.dropFirst()) {
                #expect(later.timeIntervalSince(earlier) >= 10)
            }
        }
    }

    @Test("a claim whose process died is taken over when its lease expires; a disabled integration's job is dropped")
    func leaseExpiryAndDisabling() async throws {
        try await withSMSFixture { fx in
            let start = Date()
            let first = Self.scheduler(fx.app, owner: "first")
            try await first.tick(now: start)
            let store = ScheduledJobStore(db: fx.app.db)
            let row = try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == fx.integrationID).first())
            let job = Scheduler.healthPrefix + (try row.requireID()).uuidString
            // "first" claims the check and dies before finishing it.
            let claimed = try await store.claim(job, owner: "first", now: start.addingTimeInterval(2), leaseUntil: start.addingTimeInterval(92))
            #expect(claimed != nil)
            let second = Self.scheduler(fx.app, owner: "second")
            let blocked = try await second.tick(now: start.addingTimeInterval(60))
            #expect(!blocked.contains { $0.job == job })
            let taken = try await second.tick(now: start.addingTimeInterval(93))
            #expect(taken.contains { $0.job == job && $0.error == nil })
            #expect(try await Self.healthLogs(fx.app, fx.integrationID).count == 1)
            // The late process cannot record its end over the new owner's run.
            try await store.complete(job, owner: "first", nextRun: start, finishedAt: start, error: "late")
            #expect(try await store.job(job)?.lastError == nil)

            // Disabled: the next due run drops the job and probes nothing.
            let disabled = try await fx.app.call(.PATCH, "api/integrations/\(fx.integrationID)", auth: fx.admin, body: ["is_enabled": false])
            #expect(disabled.status == .ok, "\(disabled.text)")
            _ = try await second.tick(now: start.addingTimeInterval(200))
            #expect(try await store.job(job) == nil)
            #expect(try await Self.healthLogs(fx.app, fx.integrationID).count == 1)
        }
    }

    @Test("a failing provider makes the scheduled check fail and the score fall, without anyone pressing a button")
    func failingCheckMovesHealth() async throws {
        try await withSMSFixture { fx in
            await fx.twilio.state.update { $0.authToken = "rotated-by-the-provider" }
            let scheduler = Self.scheduler(fx.app, owner: "only")
            let start = Date()
            try await scheduler.tick(now: start)
            try await scheduler.tick(now: start.addingTimeInterval(2))
            let logs = try await Self.healthLogs(fx.app, fx.integrationID)
            #expect(logs.map(\.status) == ["failed"])
            let row = try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == fx.integrationID).first())
            #expect(row.lastTestStatus == "failed")
            #expect(row.healthScore == 0)
            #expect(row.status == "error")
        }
    }

    @Test("delivery outcomes count in the scheduled check's score: a passing probe with failing sends scores 50")
    func deliveryOutcomesCount() async throws {
        try await withSMSFixture { fx in
            _ = try await DispatcherTests.queue(fx, "first")
            _ = try await DispatcherTests.queue(fx, "second")
            // Both sends get a 5xx (retryable: each is scheduled for a retry); the probe afterwards passes.
            await fx.twilio.faults.set(FaultPlan(errorRate: 1, remaining: 2))
            let dispatcher = fx.app.testDispatcher(clock: ManualClock(Date()))
            #expect(try await dispatcher.drainOnce() == 2)
            let scheduler = Self.scheduler(fx.app, owner: "only")
            let start = Date()
            try await scheduler.tick(now: start)
            try await scheduler.tick(now: start.addingTimeInterval(2))
            #expect(try await Self.healthLogs(fx.app, fx.integrationID).map(\.status) == ["success"])
            let row = try #require(try await IntegrationConfig.query(on: fx.app.db).filter(\.$publicID == fx.integrationID).first())
            // Test score 100 (one fresh success), delivery score 0 (two fresh retryable failures): the mean.
            #expect(row.healthScore == 50)
        }
    }
}
