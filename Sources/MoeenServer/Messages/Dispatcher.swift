import Fluent
import Foundation
import Logging
import MoeenConnectors
import MoeenCore
import MoeenSecrets
import Synchronization
import Vapor

/// Delivers the outbox: claims due messages with a lease, sends each through its integration's connector,
/// records the outcome (ARCHITECTURE.md "Send"). Any number of dispatchers, in any number of processes, can
/// share one database; a message is only ever claimed by one of them at a time.
final class Dispatcher: Sendable {
    /// This process's name on the leases it takes: host, pid and a random part.
    let owner: String
    let settings: DeliverySettings
    let db: any Database
    let connectors: ConnectorRegistry
    let secrets: @Sendable () throws -> IntegrationSecrets
    let clock: @Sendable () -> Date
    let sleeper: @Sendable (Duration) async -> Void
    let logger: Logger
    private let wake = WakeSignal()
    let state = Mutex(State())
    /// The centre's quiet hours (shared with the intake of this process).
    let preferences: CentrePreferencesCache
    /// `MOEEN_PUBLIC_URL`: when set, SMS sends ask Twilio to post delivery updates to the integration's webhook.
    let publicURL: String?
    /// Where each provider call is counted and timed (`moeen_dispatch_attempts_total`); none in bare tests.
    let metrics: MoeenMetrics?

    struct State {
        var stopping = false
        var inFlight = 0
        var loop: Task<Void, Never>?
        /// Integrations at their rate limit, and until when this process leaves their messages alone.
        var saturated: [UUID: Date] = [:]
    }

    init(
        db: any Database, connectors: ConnectorRegistry, secrets: @escaping @Sendable () throws -> IntegrationSecrets,
        settings: DeliverySettings, clock: @escaping @Sendable () -> Date = { Date() },
        sleeper: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        preferences: CentrePreferencesCache = CentrePreferencesCache(), publicURL: String? = nil, logger: Logger,
        owner: String? = nil, metrics: MoeenMetrics? = nil
    ) {
        self.metrics = metrics
        self.publicURL = publicURL
        self.db = db
        self.connectors = connectors
        self.secrets = secrets
        self.settings = settings
        self.clock = clock
        self.sleeper = sleeper
        self.preferences = preferences
        self.logger = logger
        self.owner = owner ?? Self.processOwner()
    }

    static func processOwner() -> String {
        let host = ProcessInfo.processInfo.hostName.prefix(40)
        return "\(host):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    var store: MessageStore { MessageStore(db: db) }
    var policies: DeliveryPolicyStore { DeliveryPolicyStore(db: db) }

    // MARK: - Running

    /// Starts the loop in the background (idempotent).
    func start() {
        state.withLock { state in
            guard state.loop == nil, !state.stopping else { return }
            state.loop = Task { await self.run() }
        }
        logger.info("dispatcher started", metadata: [
            "owner": .string(owner), "concurrency": .stringConvertible(settings.concurrency),
            "lease": .string(DurationText.format(settings.lease)),
        ])
    }

    /// New work may be due now (a message was accepted or re-queued in this process).
    func notify() { wake.signal() }

    /// Stops claiming, lets sends in flight finish within the grace period (then cancels them), and gives
    /// back every claim this process still holds.
    func stop() async {
        let loop = state.withLock { state -> Task<Void, Never>? in
            state.stopping = true
            return state.loop
        }
        wake.signal()
        guard let loop else { return }
        let grace = settings.shutdownGrace
        // Whichever comes first: the loop ending (its sends done) or the grace period. Not a task group: it
        // would wait for the loser, and awaiting a task's value does not end when cancelled.
        let finished = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answered = Mutex(false)
            let answer: @Sendable (Bool) -> Void = { value in
                let first = answered.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            Task { await loop.value; answer(true) }
            Task { try? await Task.sleep(for: grace); answer(false) }
        }
        if !finished {
            // Sends still running past the grace period are abandoned, not awaited (a provider call may not
            // notice cancellation before its own timeout). Releasing their claims below fences them off:
            // whatever they report later finds the claim gone and writes nothing.
            loop.cancel()
            logger.warning("sends still in flight after the grace period; releasing their claims",
                           metadata: ["in_flight": .stringConvertible(state.withLock { $0.inFlight })])
        }
        do {
            let released = try await store.releaseAll(owner: owner, now: clock(), reason: "released: the dispatching process stopped before an outcome")
            logger.info("dispatcher stopped", metadata: ["owner": .string(owner), "released": .stringConvertible(released)])
        } catch {
            logger.warning("dispatcher stopped without releasing its claims (they expire after the lease)",
                           metadata: ["error": .string(String(describing: error))])
        }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func run() async {
        var lastHousekeeping = ContinuousClock.now - .seconds(3600)
        var failures = 0
        await withDiscardingTaskGroup { group in
            while !isStopping, !Task.isCancelled {
                do {
                    var trials: [UUID] = []
                    if ContinuousClock.now - lastHousekeeping >= settings.housekeepingInterval {
                        lastHousekeeping = ContinuousClock.now
                        trials = try await housekeeping()
                    }
                    let free = settings.concurrency - state.withLock { $0.inFlight }
                    var claimed: [OutboundMessage] = []
                    if free > 0 {
                        claimed = try await claim(limit: free, trials: trials)
                    }
                    failures = 0
                    for message in claimed {
                        state.withLock { $0.inFlight += 1 }
                        group.addTask {
                            await self.deliver(message)
                            self.state.withLock { $0.inFlight -= 1 }
                            self.wake.signal()
                        }
                    }
                    // A full batch may mean more is due: look again at once unless every slot is busy.
                    if !claimed.isEmpty, claimed.count == free { continue }
                    await wake.wait(timeout: settings.pollInterval)
                } catch {
                    failures += 1
                    let pause = Duration.milliseconds(min(100 * (1 << min(failures, 6)), 5_000))
                    if failures == 1 || failures % 20 == 0 {
                        logger.warning("dispatcher cannot reach the database; trying again",
                                       metadata: ["error": .string(String(describing: error)), "pause": .string(DurationText.format(pause))])
                    }
                    await wake.wait(timeout: pause)
                }
            }
        }
    }

    /// Expired claims back to the queue, overdue fallbacks made, and the half-open trials this process won.
    private func housekeeping() async throws -> [UUID] {
        let now = clock()
        try await store.recoverExpiredLeases(now: now)
        let quiet = await preferences.current(on: db).activeQuietHours
        try await Fallback(db: db, settings: settings, quietHours: quiet).sweepOverdue(now: now)
        return try await policies.claimTrials(owner: owner, now: now,
                                              trialUntil: now.addingTimeInterval((settings.sendTimeout + .seconds(5)).seconds))
    }

    /// One trial message for each half-open integration this process won, then due messages of active ones.
    private func claim(limit: Int, trials: [UUID]) async throws -> [OutboundMessage] {
        let now = clock()
        let leaseUntil = now.addingTimeInterval(settings.lease.seconds)
        var claimed: [OutboundMessage] = []
        for integration in trials where claimed.count < limit {
            claimed += try await store.claim(owner: owner, limit: 1, now: now, leaseUntil: leaseUntil, integration: integration)
        }
        let excluded = state.withLock { state -> [UUID] in
            state.saturated = state.saturated.filter { $0.value > now }
            return Array(state.saturated.keys)
        }
        if claimed.count < limit {
            claimed += try await store.claim(owner: owner, limit: limit - claimed.count, now: now, leaseUntil: leaseUntil,
                                             excluding: excluded)
        }
        return claimed
    }

    // MARK: - One claim, one pass (tests and the command line)

    /// Recovers expired claims, then claims every due message (up to `limit`) and delivers them, awaiting all.
    /// Returns how many messages were attempted. For tests with an injected clock.
    @discardableResult
    func drainOnce(limit: Int = 1000) async throws -> Int {
        let trials = try await housekeeping()
        let claimed = try await claim(limit: limit, trials: trials)
        await withDiscardingTaskGroup { group in
            for message in claimed { group.addTask { await self.deliver(message) } }
        }
        return claimed.count
    }

    // MARK: - Delivering one message

    func deliver(_ message: OutboundMessage) async {
        guard let id = message.id else { return }
        let (outcome, effect) = await attempt(message)
        await apply(effect, integration: message.$integration.id, publicID: message.publicID)
        let recorded = await record(outcome, for: id, publicID: message.publicID)
        guard recorded, message.fallbackChannels != nil else { return }
        let reason: String
        switch outcome {
        case .failed: reason = "failed"
        case .dead: reason = "dead"
        default: return
        }
        do {
            let quiet = await preferences.current(on: db).activeQuietHours
            if try await Fallback(db: db, settings: settings, quietHours: quiet).make(for: id, because: reason, now: clock()) != nil {
                wake.signal()
            }
        } catch {
            logger.warning("could not make a message's fallback; the sweep will try again",
                           metadata: ["message": .string(message.publicID), "error": .string(String(describing: error))])
        }
    }

    /// Records the outcome, trying again for a while if the database is briefly away (a send that happened
    /// must not be sent twice because its record was lost); gives up when the claim would have expired.
    private func record(_ outcome: MessageStore.Outcome, for id: UUID, publicID: String) async -> Bool {
        let giveUp = ContinuousClock.now + settings.lease
        var pause = Duration.milliseconds(100)
        while true {
            do {
                let held = try await store.record(outcome, for: id, owner: owner, now: clock())
                if !held {
                    logger.warning("a message's claim was lost before its outcome was recorded",
                                   metadata: ["message": .string(publicID)])
                }
                return held
            } catch {
                guard ContinuousClock.now + pause < giveUp, !Task.isCancelled else {
                    logger.error("could not record a message's outcome; its claim will expire and it will be tried again",
                                 metadata: ["message": .string(publicID), "error": .string(String(describing: error))])
                    return false
                }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }

    /// The provider's words with the recipient masked (events and `last_error` are shown to viewers).
    static func describe(_ error: ProviderError, recipient: String) -> String {
        var text = error.message
        if !recipient.isEmpty {
            let masked = recipient.contains("@") ? EmailAddress.masked(recipient) : PhoneNumber.masked(recipient)
            text = text.replacingOccurrences(of: recipient, with: masked)
        }
        var parts = ["\(error.category.rawValue): \(text.capped(characters: 500))"]
        if let status = error.httpStatus { parts.append("HTTP \(status)") }
        return parts.joined(separator: ", ")
    }

    /// `date` rounded up to the next whole millisecond: the databases keep times to the microsecond at best,
    /// and a retry time read back a fraction early must still be no earlier than the provider asked.
    static func roundedUp(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.up) / 1000 + 0.001)
    }

    static func template(_ value: JSONValue) -> WhatsAppTemplate? {
        guard let name = value["name"]?.stringValue, let language = value["language"]?.stringValue else { return nil }
        let parameters = value["parameters"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return WhatsAppTemplate(name: name, language: language, parameters: parameters)
    }
}
