import Foundation
@testable import MoeenServer
import Testing
import Vapor

@Suite("Configuration")
struct ConfigurationTests {
    @Test("defaults: SQLite at ./moeen.sqlite, local keys, 5-minute health interval")
    func defaults() throws {
        let config = try MoeenConfiguration.parse(environment: [:], environmentName: "development")
        #expect(config.database == .sqlite(path: "./moeen.sqlite"))
        #expect(config.keyProvider == .local)
        #expect(config.healthInterval == .seconds(300))
        #expect(config.allowPrivateTargets == false)
        #expect(config.autoMigrate == true)
    }

    @Test("every setting is read", arguments: [
        ("DATABASE_URL", "postgres://u:p@db.internal:5432/moeen"),
        ("MOEEN_PUBLIC_URL", "https://hub.example.org/"),
        ("MOEEN_KEY_PROVIDER", "vault"),
        ("MOEEN_HEALTH_INTERVAL", "90s"),
        ("MOEEN_ALLOW_PRIVATE_TARGETS", "true"),
        ("LOG_LEVEL", "debug"),
    ])
    func reads(variable: String, value: String) throws {
        let config = try MoeenConfiguration.parse(environment: [variable: value], environmentName: "development")
        switch variable {
        case "DATABASE_URL": #expect(config.database == .postgres(url: value))
        case "MOEEN_PUBLIC_URL": #expect(config.publicURL == "https://hub.example.org")
        case "MOEEN_KEY_PROVIDER": #expect(config.keyProvider == .vault)
        case "MOEEN_HEALTH_INTERVAL": #expect(config.healthInterval == .seconds(90))
        case "MOEEN_ALLOW_PRIVATE_TARGETS": #expect(config.allowPrivateTargets)
        default: #expect(config.logLevel == .debug)
        }
    }

    @Test("a bad value stops the start with a message naming the variable", arguments: [
        ("DATABASE_URL", "mysql://localhost/db"),
        ("MOEEN_PUBLIC_URL", "hub.example.org"),
        ("MOEEN_KEY_PROVIDER", "azure"),
        ("MOEEN_HEALTH_INTERVAL", "soon"),
        ("MOEEN_ALLOW_PRIVATE_TARGETS", "maybe"),
        ("MOEEN_AUTO_MIGRATE", "perhaps"),
        ("LOG_LEVEL", "loud"),
        ("MOEEN_BCRYPT_COST", "3"),
        ("MOEEN_DISPATCH", "sometimes"),
        ("MOEEN_DISPATCH_LEASE", "forever"),
        ("MOEEN_DISPATCH_LEASE", "2s"),
        ("MOEEN_DISPATCH_CONCURRENCY", "0"),
        ("MOEEN_RETRY_BASE", "5 seconds"),
        ("MOEEN_RETRY_CAP", "-1s"),
        ("MOEEN_RETRY_MAX_ATTEMPTS", "ten"),
        ("MOEEN_SEND_TIMEOUT", "0ms"),
        ("MOEEN_CIRCUIT_FAILURES", "0"),
        ("MOEEN_CIRCUIT_COOLDOWN", "never"),
    ])
    func rejects(variable: String, value: String) {
        #expect {
            _ = try MoeenConfiguration.parse(environment: [variable: value], environmentName: "development")
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable && "\(error)".hasPrefix(variable)
        }
    }

    @Test("production requires https for the public URL")
    func productionHTTPS() {
        #expect(throws: ConfigurationError.self) {
            _ = try MoeenConfiguration.parse(environment: ["MOEEN_PUBLIC_URL": "http://hub.example.org"], environmentName: "production")
        }
    }

    @Test("production requires MOEEN_PUBLIC_URL to be set (and https), and accepts it then")
    func productionNeedsPublicURL() throws {
        #expect {
            _ = try MoeenConfiguration.parse(environment: [:], environmentName: "production")
        } throws: { error in
            (error as? ConfigurationError)?.variable == "MOEEN_PUBLIC_URL"
        }
        let config = try MoeenConfiguration.parse(environment: ["MOEEN_PUBLIC_URL": "https://hub.example.org"], environmentName: "production")
        #expect(config.publicURL == "https://hub.example.org")
        #expect(config.cookiesAreSecure)
        // Elsewhere it stays optional.
        #expect(try MoeenConfiguration.parse(environment: [:], environmentName: "development").publicURL == nil)
    }

    @Test("production refuses MOEEN_ALLOW_PRIVATE_TARGETS=true, naming it; false is fine; development allows it")
    func productionRefusesPrivateTargets() throws {
        let https = ["MOEEN_PUBLIC_URL": "https://hub.example.org"]
        for value in ["true", "1", "yes", "on"] {
            #expect {
                _ = try MoeenConfiguration.parse(environment: https.merging(["MOEEN_ALLOW_PRIVATE_TARGETS": value]) { $1 }, environmentName: "production")
            } throws: { error in
                (error as? ConfigurationError)?.variable == "MOEEN_ALLOW_PRIVATE_TARGETS" && "\(error)".hasPrefix("MOEEN_ALLOW_PRIVATE_TARGETS")
            }
        }
        let refused = try MoeenConfiguration.parse(environment: https.merging(["MOEEN_ALLOW_PRIVATE_TARGETS": "false"]) { $1 }, environmentName: "production")
        #expect(!refused.allowPrivateTargets)
        #expect(try MoeenConfiguration.parse(environment: ["MOEEN_ALLOW_PRIVATE_TARGETS": "true"], environmentName: "development").allowPrivateTargets)
    }

    @Test("a health interval too large to count is a configuration error, not a crash", arguments: [
        "99999999999999999h", "9223372036854775807m", "99999999999999999999", "8d", "-5m", "+5m", "5 m", "h",
    ])
    func hugeDurations(raw: String) {
        #expect(MoeenConfiguration.parseDuration(raw) == nil)
        #expect {
            _ = try MoeenConfiguration.parse(environment: ["MOEEN_HEALTH_INTERVAL": raw], environmentName: "development")
        } throws: { error in
            (error as? ConfigurationError)?.variable == "MOEEN_HEALTH_INTERVAL"
        }
    }

    @Test("durations: seconds, minutes, hours; the interval is bounded to 10 seconds … 7 days")
    func durations() throws {
        #expect(MoeenConfiguration.parseDuration("300") == .seconds(300))
        #expect(MoeenConfiguration.parseDuration("90s") == .seconds(90))
        #expect(MoeenConfiguration.parseDuration("5m") == .seconds(300))
        #expect(MoeenConfiguration.parseDuration("2h") == .seconds(7200))
        #expect(try MoeenConfiguration.parse(environment: ["MOEEN_HEALTH_INTERVAL": "168h"], environmentName: "testing").healthInterval == .seconds(604_800))
        #expect(throws: ConfigurationError.self) {
            _ = try MoeenConfiguration.parse(environment: ["MOEEN_HEALTH_INTERVAL": "169h"], environmentName: "testing")
        }
        #expect(throws: ConfigurationError.self) {
            _ = try MoeenConfiguration.parse(environment: ["MOEEN_HEALTH_INTERVAL": "9s"], environmentName: "testing")
        }
    }
}

@Suite("Start-up key checks")
struct StartupKeyTests {
    @Test("production without a master key stops the start with a message saying what to set")
    func productionNeedsKey() async throws {
        let app = try await Application.make(.testing)
        var config = MoeenConfiguration(environmentName: "production", database: .sqlite(path: ":memory:"))
        config.environment = [:]
        do {
            try await configure(app, configuration: config)
            Issue.record("configure should have failed")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("MOEEN_MASTER_KEY"))
        }
        try await app.asyncShutdown()
    }

    @Test("a master key that is not 32 bytes of base64 stops the start naming the variable")
    func badKey() async throws {
        let app = try await Application.make(.testing)
        let config = MoeenConfiguration(environmentName: "testing", database: .sqlite(path: ":memory:"), environment: ["MOEEN_MASTER_KEY": "not-a-key"])
        await #expect { try await configure(app, configuration: config) } throws: { error in
            "\(error)".contains("MOEEN_MASTER_KEY")
        }
        try await app.asyncShutdown()
    }

    @Test("delivery settings: defaults, and every duration in ms, s, m or h through the one parser")
    func deliverySettings() throws {
        let defaults = try MoeenConfiguration.parse(environment: [:], environmentName: "development").delivery
        #expect(defaults == DeliverySettings())
        #expect(defaults.dispatch && defaults.lease == .seconds(60) && defaults.concurrency == 16)
        #expect(defaults.retryBase == .seconds(5) && defaults.retryCap == .seconds(3600) && defaults.maxAttempts == 10)
        #expect(defaults.sendTimeout == .seconds(15))
        let custom = try MoeenConfiguration.parse(environment: [
            "MOEEN_DISPATCH": "false", "MOEEN_DISPATCH_LEASE": "2m", "MOEEN_DISPATCH_CONCURRENCY": "4",
            "MOEEN_RETRY_BASE": "200ms", "MOEEN_RETRY_CAP": "1h", "MOEEN_RETRY_MAX_ATTEMPTS": "3", "MOEEN_SEND_TIMEOUT": "5s",
        ], environmentName: "development").delivery
        #expect(!custom.dispatch)
        #expect(custom.lease == .seconds(120) && custom.concurrency == 4 && custom.retryBase == .milliseconds(200))
        #expect(custom.retryCap == .seconds(3600) && custom.maxAttempts == 3 && custom.sendTimeout == .seconds(5))
    }
}
