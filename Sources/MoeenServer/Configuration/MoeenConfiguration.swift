import Foundation
import Logging
import MoeenCore

/// Every setting of the service, read once at boot from the environment (and `.env` files in development).
///
/// A missing or malformed value stops the start with a `ConfigurationError` naming the variable.
public struct MoeenConfiguration: Sendable {
    public enum DatabaseTarget: Sendable, Equatable {
        /// SQLite file (WAL mode); `":memory:"` keeps it in memory (tests).
        case sqlite(path: String)
        /// PostgreSQL connection URL.
        case postgres(url: String)
    }

    public enum KeyProviderKind: String, Sendable, CaseIterable {
        case local
        case awsKMS = "aws-kms"
        case vault
    }

    /// `development`, `testing` or `production` (Vapor's environment name).
    public var environmentName: String
    public var database: DatabaseTarget
    /// External base URL, used for webhook URLs and links (no trailing slash).
    public var publicURL: String?
    public var keyProvider: KeyProviderKind
    public var healthInterval: Duration
    public var allowPrivateTargets: Bool
    public var autoMigrate: Bool
    public var logLevel: Logger.Level
    /// `LOG_FORMAT`: `text` (default) or `json` (one object per line); the executable bootstraps logging with it.
    public var logFormat: LogFormat = .text
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    public var metricsToken: String?
    /// The total time one provider call may take (PROVIDERS.md: 15 s; tests shorten it).
    public var providerTimeout: Duration = .seconds(15)
    /// bcrypt cost for passwords (`MOEEN_BCRYPT_COST`, 10–16, default 12).
    public var passwordHashCost: Int = 12
    /// `MOEEN_OUTBOUND_ALLOWLIST`: when set, the only host names and address ranges any outbound call
    /// (connectors, key providers) may reach; everything else is refused before any look-up.
    public var outboundAllowlist: OutboundAllowlist?
    /// `MOEEN_TRUSTED_PROXIES`: the proxies whose `X-Forwarded-For` names the client's address.
    public var trustedProxies: [IPNetwork] = []
    /// How messages are dispatched and retried (`MOEEN_DISPATCH*`, `MOEEN_RETRY_*`, `MOEEN_SEND_TIMEOUT`).
    public var delivery = DeliverySettings()
    /// The scheduler and retention (`MOEEN_SCHEDULER`, `MOEEN_RETENTION_DAYS`).
    public var monitoring = MonitoringSettings()
    /// The full environment the configuration came from (key providers read their own settings from it).
    public var environment: [String: String]

    public var isProduction: Bool { environmentName == "production" }

    public init(
        environmentName: String = "development",
        database: DatabaseTarget = .sqlite(path: "./moeen.sqlite"),
        publicURL: String? = nil,
        keyProvider: KeyProviderKind = .local,
        healthInterval: Duration = .seconds(300),
        allowPrivateTargets: Bool = false,
        autoMigrate: Bool = true,
        logLevel: Logger.Level = .info,
        metricsToken: String? = nil,
        environment: [String: String] = [:]
    ) {
        self.environmentName = environmentName
        self.database = database
        self.publicURL = publicURL
        self.keyProvider = keyProvider
        self.healthInterval = healthInterval
        self.allowPrivateTargets = allowPrivateTargets
        self.autoMigrate = autoMigrate
        self.logLevel = logLevel
        self.metricsToken = metricsToken
        self.environment = environment
    }

    /// Parses the environment. Unknown variables are ignored; bad values of known ones are errors.
    public static func parse(environment env: [String: String], environmentName: String) throws(ConfigurationError) -> MoeenConfiguration {
        var config = MoeenConfiguration(environmentName: environmentName, environment: env)

        if let url = nonEmpty(env["DATABASE_URL"]) {
            guard let components = URLComponents(string: url),
                  let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme),
                  components.host?.isEmpty == false
            else {
                throw ConfigurationError(variable: "DATABASE_URL", message: "must be a PostgreSQL URL like postgres://user:password@host:5432/database")
            }
            config.database = .postgres(url: url)
        } else {
            config.database = .sqlite(path: nonEmpty(env["MOEEN_SQLITE_PATH"]) ?? "./moeen.sqlite")
        }

        if let raw = nonEmpty(env["MOEEN_PUBLIC_URL"]) {
            guard let components = URLComponents(string: raw),
                  let scheme = components.scheme, ["http", "https"].contains(scheme),
                  components.host?.isEmpty == false
            else {
                throw ConfigurationError(variable: "MOEEN_PUBLIC_URL", message: "must be an absolute http(s) URL like https://hub.example.org")
            }
            if environmentName == "production" && scheme != "https" {
                throw ConfigurationError(variable: "MOEEN_PUBLIC_URL", message: "must use https in production")
            }
            config.publicURL = raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        }

        if let raw = nonEmpty(env["MOEEN_KEY_PROVIDER"]) {
            guard let kind = KeyProviderKind(rawValue: raw) else {
                throw ConfigurationError(
                    variable: "MOEEN_KEY_PROVIDER",
                    message: "must be one of \(KeyProviderKind.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(raw)\")"
                )
            }
            config.keyProvider = kind
        }

        if let raw = nonEmpty(env["MOEEN_HEALTH_INTERVAL"]) {
            guard let interval = parseDuration(raw), interval >= .seconds(10), interval <= maximumHealthInterval else {
                throw ConfigurationError(
                    variable: "MOEEN_HEALTH_INTERVAL",
                    message: "must be a duration from 10 seconds to 7 days, like 300, 90s, 5m or 1h (got \"\(raw)\")"
                )
            }
            config.healthInterval = interval
        }

        config.allowPrivateTargets = try parseBool(env, "MOEEN_ALLOW_PRIVATE_TARGETS", default: false)
        if config.isProduction && config.allowPrivateTargets {
            throw ConfigurationError(
                variable: "MOEEN_ALLOW_PRIVATE_TARGETS",
                message: "must not be true in production: integrations could then reach the machine's own and internal services"
            )
        }
        if config.isProduction && config.publicURL == nil {
            throw ConfigurationError(
                variable: "MOEEN_PUBLIC_URL",
                message: "is required in production: set the service's external https address, like https://hub.example.org"
            )
        }
        config.autoMigrate = try parseBool(env, "MOEEN_AUTO_MIGRATE", default: true)

        if let raw = nonEmpty(env["LOG_LEVEL"]) {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw ConfigurationError(variable: "LOG_LEVEL", message: "must be one of trace, debug, info, notice, warning, error, critical (got \"\(raw)\")")
            }
            config.logLevel = level
        }

        if let raw = nonEmpty(env["MOEEN_OUTBOUND_ALLOWLIST"]) {
            guard let list = OutboundAllowlist(raw) else {
                throw ConfigurationError(
                    variable: "MOEEN_OUTBOUND_ALLOWLIST",
                    message: "must be a comma-separated list of host names and CIDR ranges, like 127.0.0.0/8,::1,localhost (got \"\(raw)\")"
                )
            }
            config.outboundAllowlist = list
        }

        if let raw = nonEmpty(env["MOEEN_TRUSTED_PROXIES"]) {
            var networks: [IPNetwork] = []
            for item in raw.split(separator: ",") {
                guard let network = IPNetwork(String(item)) else {
                    throw ConfigurationError(
                        variable: "MOEEN_TRUSTED_PROXIES",
                        message: "must be a comma-separated list of addresses or CIDR ranges, like 10.0.0.0/8,127.0.0.1 (got \"\(item)\")"
                    )
                }
                networks.append(network)
            }
            config.trustedProxies = networks
        }

        config.metricsToken = nonEmpty(env["MOEEN_METRICS_TOKEN"])
        config.logFormat = try LogFormat.parse(env)
        if let raw = nonEmpty(env["MOEEN_BCRYPT_COST"]) {
            guard let cost = Int(raw), (10...16).contains(cost) else {
                throw ConfigurationError(variable: "MOEEN_BCRYPT_COST", message: "must be a whole number from 10 to 16 (got \"\(raw)\")")
            }
            config.passwordHashCost = cost
        }
        config.delivery = try DeliverySettings.parse(env)
        config.monitoring = try MonitoringSettings.parse(env)
        return config
    }

    /// A duration setting within `range`, or `fallback` when unset.
    static func parseDuration(
        _ env: [String: String], _ name: String, default fallback: Duration, range: ClosedRange<Duration>
    ) throws(ConfigurationError) -> Duration {
        guard let raw = nonEmpty(env[name]) else { return fallback }
        guard let value = parseDuration(raw), range.contains(value) else {
            throw ConfigurationError(
                variable: name,
                message: "must be a duration from \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound)) like 200ms, 5s, 10m or 1h (got \"\(raw)\")")
        }
        return value
    }

    /// A whole-number setting within `range`, or `fallback` when unset.
    static func parseInt(
        _ env: [String: String], _ name: String, default fallback: Int, range: ClosedRange<Int>
    ) throws(ConfigurationError) -> Int {
        guard let raw = nonEmpty(env[name]) else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \"\(raw)\")")
        }
        return value
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    static func parseBool(_ env: [String: String], _ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        guard let raw = nonEmpty(env[name]) else { return fallback }
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable: name, message: "must be true or false (got \"\(raw)\")")
        }
    }

    /// The longest `MOEEN_HEALTH_INTERVAL` accepted.
    static let maximumHealthInterval: Duration = .seconds(7 * 24 * 3600)

    /// Every duration setting, through MoeenCore's one parser (`DurationText`): `300`, `200ms`, `300s`, `5m`,
    /// `1h`; `nil` for anything else, including a number too large to count
    /// (checked, never trapping: `99999999999999999h` is a configuration error like any other).
    static func parseDuration(_ raw: String) -> Duration? {
        DurationText.parse(raw)
    }
}

/// A setting that stops the start: names the variable and says what it must be.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let variable: String
    public let message: String

    public init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    public var description: String { "\(variable) \(message)" }
}
