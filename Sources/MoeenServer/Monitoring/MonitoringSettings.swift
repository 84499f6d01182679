import Foundation

/// The scheduler's settings: `MOEEN_SCHEDULER` (default true: `moeen serve` and `moeen worker` run the
/// scheduled health checks, alert evaluation and retention) and `MOEEN_RETENTION_DAYS` (default 90, 1–3650).
/// The health-check interval is `MOEEN_HEALTH_INTERVAL` (`MoeenConfiguration.healthInterval`).
public struct MonitoringSettings: Sendable, Equatable {
    public var schedulerEnabled = true
    public var retentionDays = 90

    public init() {}

    static func parse(_ env: [String: String]) throws(ConfigurationError) -> MonitoringSettings {
        var settings = MonitoringSettings()
        settings.schedulerEnabled = try MoeenConfiguration.parseBool(env, "MOEEN_SCHEDULER", default: true)
        settings.retentionDays = try MoeenConfiguration.parseInt(env, "MOEEN_RETENTION_DAYS", default: 90, range: 1...3650)
        return settings
    }
}
