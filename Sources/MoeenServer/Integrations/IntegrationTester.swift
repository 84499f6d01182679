import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
import MoeenSecrets
import Vapor

/// One "test connection" (or test message) request.
struct IntegrationTestRequest: Sendable {
    /// The stored integration, when there is one (its settings fill what `config` leaves out).
    var integration: IntegrationConfig?
    var type: IntegrationType
    /// Unsaved settings to test; omitted or hint-valued secrets come from the stored row.
    var config: [String: JSONValue]?
    /// `connection` (default; never messages anyone) or `send_message`.
    var testType: String
    var recipient: String?
    /// Set for the scheduler's unattended check (`test_type` `health_check`, no user): it runs the
    /// connector's `scheduledProbe`, which never messages anyone, and records incomplete settings as a
    /// failed check instead of refusing them.
    var scheduled: Scheduler.ScheduledRun? = nil
}

/// Runs a test against the provider and records it: resolve and validate the settings, mark the row
/// `testing`, run the connector's probe (or send one test message) with the total timeout, write one
/// `integration_test_logs` row (redacted), then update `last_test_*`, `status`, `health_score` and the
/// health history.
///
/// Independent of any HTTP request: the API, the admin pages and `moeen integrations test` use it alike.
///
/// **Stored secrets never follow a changed URL.** Settings sent with the request are laid over the stored
/// ones, but the stored secrets are filled in only when every URL setting (and, for Google, the client id)
/// equals the stored value. Otherwise the request must carry every secret it wants used, or the answer is
/// 422 naming each missing one — so no one who may run tests can send a stored credential to a host of
/// their choosing.
struct IntegrationTester {
    let db: any Database
    let secrets: IntegrationSecrets
    let connectors: ConnectorRegistry
    let providerTimeout: Duration
    let logger: Logger
    let metrics: MoeenMetrics

    init(app: Application, logger: Logger? = nil) throws {
        db = app.db
        secrets = try app.integrationSecrets
        connectors = app.connectors
        providerTimeout = app.moeenConfiguration.providerTimeout
        self.logger = logger ?? app.logger
        metrics = app.metrics
    }

    init(req: Request) throws {
        db = req.db
        secrets = try req.application.integrationSecrets
        connectors = req.application.connectors
        providerTimeout = req.application.moeenConfiguration.providerTimeout
        logger = req.logger
        metrics = req.application.metrics
    }

    static let testTypes = ["connection", "send_message"]
    /// The scheduler's test type (the original's value); never accepted from a request.
    static let healthCheck = "health_check"


    /// The longest a request/response field of a test log may be once encoded (longer ones are cut, visibly).
    static let logFieldLimit = 16 * 1024
    /// The longest `error_message` kept.
    static let errorMessageLimit = 2000

    func run(_ request: IntegrationTestRequest, by user: AuthenticatedUser?) async throws -> TestResultDTO {
        guard Self.testTypes.contains(request.testType) || (request.scheduled != nil && request.testType == Self.healthCheck) else {
            throw APIError.validation(field: "test_type", "must be one of \(Self.testTypes.joined(separator: ", "))")
        }
        let resolved = try await resolveSettings(request)
        let settings = resolved.settings
        let problems = IntegrationCatalog.validate(type: request.type, config: settings)
        var incomplete: String?
        if !problems.isEmpty {
            guard request.scheduled != nil else {
                throw APIError.validation(Dictionary(uniqueKeysWithValues: problems.map { ("config.\($0.key)", $0.value) }))
            }
            incomplete = "The settings are incomplete: " + problems.keys.sorted().map { "\($0) \(problems[$0] ?? "")" }.joined(separator: "; ")
        }
        let recipient = try validatedRecipient(request)
        let testsStoredSettings = resolved.testsStoredSettings

        let row = request.integration
        if let row, testsStoredSettings {
            row.status = "testing"
            try await row.save(on: db)
        }

        let outcome = if let incomplete { TestOutcome.failure(incomplete) }
            else { await execute(request.type, settings: settings, testType: request.testType, recipient: recipient) }
        let redactor = Redactor(secrets: IntegrationCatalog.secretFieldNames(for: request.type).compactMap { settings[$0] })

        var logID: UUID?
        var score: Int?
        if let row {
            let log = IntegrationTestLog()
            log.publicID = PublicID.make(.integrationTestLog)
            log.$integration.id = try row.requireID()
            log.integrationType = request.type.rawValue
            log.testType = request.testType
            log.status = outcome.status
            log.configSource = testsStoredSettings ? "stored" : "unsaved"
            var requestData = outcome.requestData(settings: settings, type: request.type, recipient: recipient)
            if case .object(var object) = requestData {
                object["config_source"] = .string(log.configSource)
                if let run = request.scheduled {
                    object["scheduled"] = .object([
                        "due_at": .string(MessageIntake.timestamp(run.dueAt)),
                        "claimed_at": .string(MessageIntake.timestamp(run.claimedAt)),
                        "process": .string(run.process),
                    ])
                }
                requestData = .object(object)
            }
            log.requestData = redactor.redact(requestData).capped(bytes: Self.logFieldLimit)
            log.responseData = redactor.redact(outcome.responseData).capped(bytes: Self.logFieldLimit)
            log.errorMessage = outcome.success ? nil : redactor.redact(outcome.message).capped(characters: Self.errorMessageLimit)
            log.durationMs = outcome.durationMs
            log.$testedBy.id = user?.id
            // The log row and the health it implies are written together: one commit, never one without the other.
            let message = redactor.redact(outcome.message)
            do {
                score = try await db.transaction { db in
                    try await log.create(on: db)
                    guard testsStoredSettings else { return nil }
                    // A stored test that passes closes the delivery circuit breaker at once.
                    if outcome.success { try await DeliveryPolicyStore(db: db).reset(try row.requireID(), now: Date()) }
                    return try await HealthRecorder(db: db).record(row, status: outcome.status, message: message, at: Date())
                }
            } catch {
                // Never leave the row `testing`: put back the status its last recorded test implies.
                if testsStoredSettings { await TestingStatus.restore(row, on: db, logger: logger) }
                throw error
            }
            logID = log.id
            await CredentialExpiry.markIfExpired(outcome, type: request.type, row: testsStoredSettings ? row : nil, on: db, logger: logger)
        }
        metrics.integrationTest(type: request.type.rawValue, testType: request.testType, status: outcome.status, durationMs: outcome.durationMs)
        logger.info("integration test", metadata: [
            "integration": .string(row?.publicID ?? "unsaved"), "type": .string(request.type.rawValue),
            "test_type": .string(request.testType), "status": .string(outcome.status), "duration_ms": .stringConvertible(outcome.durationMs),
            "config_source": .string(testsStoredSettings ? "stored" : "unsaved"),
        ])
        return TestResultDTO(
            success: outcome.success, status: outcome.status, testType: request.testType,
            message: redactor.redact(outcome.message), statusCode: outcome.statusCode, durationMs: outcome.durationMs,
            details: redactor.redact(.object(outcome.details)), logID: logID, healthScore: score ?? row?.healthScore
        )
    }

    private func validatedRecipient(_ request: IntegrationTestRequest) throws -> String? {
        guard request.testType == "send_message" else { return nil }
        switch request.type {
        case .slack:
            return nil
        case .googleCalendar, .seha, .tatman:
            throw APIError.validation(field: "test_type", "\(request.type.rawValue) has no test message; use connection")
        case .whatsapp, .sms:
            guard let to = request.recipient, IntegrationCatalog.isE164(to) else {
                throw APIError.validation(field: "test_recipient", "must be a phone number in E.164 form, like +966501234567")
            }
            return to
        case .email:
            guard let to = request.recipient, IntegrationCatalog.isEmail(to) else {
                throw APIError.validation(field: "test_recipient", "must be an e-mail address")
            }
            return to
        }
    }

    private func execute(_ type: IntegrationType, settings: [String: String], testType: String, recipient: String?) async -> TestOutcome {
        if testType == "connection" {
            return TestOutcome(probe: await connectors.connector(for: type).probe(config: settings, timeout: providerTimeout))
        }
        if testType == Self.healthCheck {
            return TestOutcome(probe: await connectors.connector(for: type).scheduledProbe(config: settings, timeout: providerTimeout))
        }
        guard let sender = connectors.sender(for: type) else {
            return TestOutcome.failure("This integration cannot send messages.")
        }
        let message = ChannelMessage(
            to: recipient ?? "",
            text: "Moeen Hub test message — رسالة اختبار من مُعين",
            subject: "Moeen Hub test message"
        )
        let started = ContinuousClock.now
        do {
            let receipt = try await sender.send(message, config: settings, timeout: providerTimeout)
            return TestOutcome(receipt: receipt, durationMs: started.elapsedMilliseconds)
        } catch {
            return TestOutcome(error: error, durationMs: started.elapsedMilliseconds)
        }
    }
}
