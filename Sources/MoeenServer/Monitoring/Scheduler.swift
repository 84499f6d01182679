import Fluent
import Foundation
import Logging
import SQLKit
import Synchronization

/// Runs the periodic jobs of `moeen serve` and `moeen worker`: each enabled integration's scheduled health
/// check every `MOEEN_HEALTH_INTERVAL` (plus up to 10 % jitter), alert evaluation, and retention.
///
/// Every job is a row of `scheduled_jobs` (see `ScheduledJobStore`): a process runs a job only after
/// winning its lease, so with several processes on one PostgreSQL each period of each job runs once. The
/// next run is set from the time the run was claimed, so two runs of a health check are always at least
/// one interval apart, whichever processes ran them.
final class Scheduler: Sendable {
    /// What the scheduler runs and how often.
    struct Settings: Sendable {
        var healthInterval: Duration
        /// How often alert rules are evaluated: the health interval, at most a minute.
        var alertInterval: Duration
        var retentionInterval: Duration = .seconds(3600)
        /// How often the loop looks for due jobs.
        var tick: Duration = .seconds(1)
        /// How many jobs one process runs at once.
        var concurrency = 4
        /// A claim's lease: longer than any run (a provider call is bounded by its timeout).
        var lease: Duration

        init(healthInterval: Duration, providerTimeout: Duration) {
            self.healthInterval = healthInterval
            alertInterval = min(healthInterval, .seconds(60))
            lease = providerTimeout * 2 + .seconds(60)
        }
    }

    /// The jobs' work, injected so that tests can run the scheduler with their own.
    struct Work: Sendable {
        /// Runs the scheduled check of one integration; `false` when it no longer exists or is disabled.
        var healthCheck: @Sendable (_ integrationID: UUID, _ run: ScheduledRun) async throws -> Bool
        var evaluateAlerts: @Sendable (_ now: Date) async throws -> Void
        /// Deletes what retention removes; `true` when more remains for another run soon.
        var retention: @Sendable (_ now: Date) async throws -> Bool
    }

    /// One run of a job, as its log records it.
    struct ScheduledRun: Sendable {
        let dueAt: Date
        let claimedAt: Date
        let process: String
    }

    /// What one `tick` ran.
    struct Ran: Sendable, Equatable {
        let job: String
        let claimedAt: Date
        let error: String?
    }

    static let healthPrefix = "health:"
    static let alertsJob = "alerts"
    static let retentionJob = "retention"

    let owner: String
    private let db: any Database
    private let settings: Settings
    private let work: Work
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let wake = WakeSignal()
    private let state = Mutex(LoopState())

    private struct LoopState {
        var stopping = false
        var loop: Task<Void, Never>?
        /// The fixed jobs' rows exist.
        var registered = false
        /// Integrations whose health-check row this process has made sure of.
        var known: Set<UUID> = []
    }

    init(db: any Database, settings: Settings, work: Work, owner: String = Scheduler.processOwner(),
         random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, logger: Logger) {
        self.db = db
        self.settings = settings
        self.work = work
        self.owner = owner
        self.random = random
        self.logger = logger
    }

    /// This process: host, pid and a random suffix (a restarted process never inherits a lease).
    static func processOwner() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
    }

    func start() {
        state.withLock { state in
            guard state.loop == nil, !state.stopping else { return }
            state.loop = Task { await self.run() }
        }
    }

    /// Stops looking for jobs and waits for the running ones (each bounded by the provider timeout).
    func stop() async {
        let loop = state.withLock { state -> Task<Void, Never>? in
            state.stopping = true
            return state.loop
        }
        wake.signal()
        await loop?.value
    }

    private func run() async {
        var failures = 0
        while !state.withLock({ $0.stopping }), !Task.isCancelled {
            do {
                _ = try await tick(now: Date())
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 60 == 0 {
                    logger.warning("the scheduler cannot reach the database; trying again",
                                   metadata: ["error": .string(String(describing: error))])
                }
            }
            await wake.wait(timeout: settings.tick)
        }
    }

    /// One pass: registers new enabled integrations' checks, then claims and runs every due job.
    @discardableResult
    func tick(now: Date) async throws -> [Ran] {
        let store = ScheduledJobStore(db: db)
        try await registerJobs(now: now, store: store)
        let due = try await store.due(now: now, limit: 50)
        guard !due.isEmpty else { return [] }
        return await withTaskGroup(of: Ran?.self) { group in
            var ran: [Ran] = []
            var next = due.makeIterator()
            func add() -> Bool {
                guard let name = next.next() else { return false }
                group.addTask { await self.runIfClaimed(name, now: now, store: store) }
                return true
            }
            for _ in 0..<settings.concurrency where add() {}
            while let result = await group.next() {
                if let result { ran.append(result) }
                _ = add()
            }
            return ran.sorted { $0.job < $1.job }
        }
    }

    /// Adds the fixed jobs and a health check for each enabled integration not seen before by this process.
    private func registerJobs(now: Date, store: ScheduledJobStore) async throws {
        struct Row: Decodable { let id: UUID }
        guard let sql = db as? any SQLDatabase else { return }
        let enabled = try await sql.select().column("id").from(IntegrationConfig.schema)
            .where("is_enabled", .equal, SQLBind(true)).all(decoding: Row.self).map(\.id)
        let (fresh, first) = state.withLock { state in
            (enabled.filter { !state.known.contains($0) }, !state.registered)
        }
        if first {
            try await store.ensure(Self.alertsJob, firstRun: now)
            try await store.ensure(Self.retentionJob, firstRun: now)
            state.withLock { $0.registered = true }
        }
        for id in fresh {
            // The first check comes soon after an integration is enabled, spread over a tenth of the interval.
            try await store.ensure(Self.healthPrefix + id.uuidString, firstRun: now.addingTimeInterval(jitter(settings.healthInterval)))
            state.withLock { _ = $0.known.insert(id) }
        }
    }

    private func runIfClaimed(_ name: String, now: Date, store: ScheduledJobStore) async -> Ran? {
        let job = Self.describe(name)
        let dueAt: Date?
        do {
            dueAt = try await store.claim(name, owner: owner, now: now, leaseUntil: now.addingTimeInterval(settings.lease.seconds))
        } catch {
            logger.warning("could not claim a scheduled job", metadata: ["job": .string(job), "error": .string(String(describing: error))])
            return nil
        }
        guard let dueAt else { return nil }
        var failure: String?
        var nextRun: Date
        do {
            nextRun = try await perform(name, run: ScheduledRun(dueAt: dueAt, claimedAt: now, process: owner), store: store)
        } catch {
            failure = String(describing: error)
            logger.error("scheduled job failed", metadata: ["job": .string(job), "error": .string(failure ?? "")])
            nextRun = now.addingTimeInterval(interval(of: name).seconds)
        }
        do {
            try await store.complete(name, owner: owner, nextRun: nextRun, finishedAt: Date(), error: failure)
        } catch {
            logger.warning("could not record a scheduled job's end; its lease will expire",
                           metadata: ["job": .string(job), "error": .string(String(describing: error))])
        }
        return Ran(job: name, claimedAt: now, error: failure)
    }

    /// Runs the job; returns when it is next due.
    private func perform(_ name: String, run: ScheduledRun, store: ScheduledJobStore) async throws -> Date {
        let now = run.claimedAt
        switch name {
        case Self.alertsJob:
            try await work.evaluateAlerts(now)
            return now.addingTimeInterval(settings.alertInterval.seconds)
        case Self.retentionJob:
            let more = try await work.retention(now)
            return now.addingTimeInterval(more ? 60 : settings.retentionInterval.seconds)
        default:
            guard name.hasPrefix(Self.healthPrefix), let id = UUID(uuidString: String(name.dropFirst(Self.healthPrefix.count))) else {
                try await store.remove(name)
                return now
            }
            if try await work.healthCheck(id, run) {
                return now.addingTimeInterval(settings.healthInterval.seconds + jitter(settings.healthInterval))
            }
            // Disabled or deleted: drop the job; enabling the integration again registers it anew.
            try await store.remove(name)
            state.withLock { _ = $0.known.remove(id) }
            return now
        }
    }

    private func interval(of name: String) -> Duration {
        switch name {
        case Self.alertsJob: settings.alertInterval
        case Self.retentionJob: settings.retentionInterval
        default: settings.healthInterval
        }
    }

    /// Up to a tenth of `interval`, at random.
    private func jitter(_ interval: Duration) -> TimeInterval {
        interval.seconds * 0.1 * random()
    }

    private static func describe(_ name: String) -> String {
        name.hasPrefix(healthPrefix) ? "health check of integration \(name.dropFirst(healthPrefix.count))" : name
    }
}
