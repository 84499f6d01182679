import MoeenCore

/// How this process dispatches messages and when it tries again (ARCHITECTURE.md "Send").
public struct DeliverySettings: Sendable, Equatable {
    /// `MOEEN_DISPATCH`: whether `moeen serve` runs a dispatcher (default true). `moeen worker` always does.
    public var dispatch = true
    /// `MOEEN_DISPATCH_LEASE`: how long a claimed message is this process's before another may claim it.
    public var lease: Duration = .seconds(60)
    /// `MOEEN_DISPATCH_CONCURRENCY`: sends in flight at once in this process.
    public var concurrency = 16
    /// `MOEEN_RETRY_BASE`: the ceiling of the first retry delay (doubling after each failure).
    public var retryBase: Duration = .seconds(5)
    /// `MOEEN_RETRY_CAP`: the largest retry ceiling (a provider's Retry-After may ask for longer).
    public var retryCap: Duration = .seconds(3600)
    /// `MOEEN_RETRY_MAX_ATTEMPTS`: attempts in all before a message is dead.
    public var maxAttempts = 10
    /// `MOEEN_SEND_TIMEOUT`: the total time one send may take.
    public var sendTimeout: Duration = .seconds(15)
    /// How often an idle dispatcher looks for due work another process queued (within 1 s, API.md).
    public var pollInterval: Duration = .milliseconds(500)
    /// `MOEEN_DISPATCH_GRACE`: how long a stopping process lets sends in flight finish.
    public var shutdownGrace: Duration = .seconds(10)
    /// `MOEEN_CIRCUIT_FAILURES`: retryable failures in a row that pause an integration's dispatch.
    public var circuitFailures = 10
    /// `MOEEN_CIRCUIT_COOLDOWN`: how long a paused integration waits before one trial send.
    public var circuitCooldown: Duration = .seconds(60)
    /// How far ahead a send may hold a rate-limit slot and wait for it; beyond, it goes back to the queue.
    public var rateHorizon: Duration = .seconds(5)
    /// How often expired claims, half-open trials and overdue fallbacks are looked for.
    public var housekeepingInterval: Duration = .seconds(1)

    public init() {}

    /// The retry schedule these settings describe.
    public var retryPolicy: RetryPolicy {
        RetryPolicy(base: retryBase, cap: retryCap, maxAttempts: maxAttempts)
    }

    static func parse(_ env: [String: String]) throws(ConfigurationError) -> DeliverySettings {
        typealias Config = MoeenConfiguration
        var settings = DeliverySettings()
        settings.dispatch = try Config.parseBool(env, "MOEEN_DISPATCH", default: true)
        settings.lease = try Config.parseDuration(env, "MOEEN_DISPATCH_LEASE", default: settings.lease,
                                                  range: .seconds(1)...(.seconds(3600)))
        settings.concurrency = try Config.parseInt(env, "MOEEN_DISPATCH_CONCURRENCY", default: settings.concurrency,
                                                   range: 1...256)
        settings.retryBase = try Config.parseDuration(env, "MOEEN_RETRY_BASE", default: settings.retryBase,
                                                      range: .milliseconds(1)...(.seconds(24 * 3600)))
        settings.retryCap = try Config.parseDuration(env, "MOEEN_RETRY_CAP", default: settings.retryCap,
                                                     range: .milliseconds(1)...(.seconds(7 * 24 * 3600)))
        settings.maxAttempts = try Config.parseInt(env, "MOEEN_RETRY_MAX_ATTEMPTS", default: settings.maxAttempts,
                                                   range: 1...100)
        settings.sendTimeout = try Config.parseDuration(env, "MOEEN_SEND_TIMEOUT", default: settings.sendTimeout,
                                                        range: .milliseconds(100)...(.seconds(300)))
        settings.shutdownGrace = try Config.parseDuration(env, "MOEEN_DISPATCH_GRACE", default: settings.shutdownGrace,
                                                          range: .zero...(.seconds(600)))
        settings.circuitFailures = try Config.parseInt(env, "MOEEN_CIRCUIT_FAILURES", default: settings.circuitFailures,
                                                       range: 1...1000)
        settings.circuitCooldown = try Config.parseDuration(env, "MOEEN_CIRCUIT_COOLDOWN", default: settings.circuitCooldown,
                                                            range: .milliseconds(100)...(.seconds(24 * 3600)))
        guard settings.sendTimeout < settings.lease else {
            throw ConfigurationError(variable: "MOEEN_DISPATCH_LEASE",
                                     message: "must be longer than MOEEN_SEND_TIMEOUT (\(DurationText.format(settings.sendTimeout))), or a send could outlive its claim")
        }
        return settings
    }
}
