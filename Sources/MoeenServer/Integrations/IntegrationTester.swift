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
}

/// API.md's TestResult. HTTP 200 whenever the test ran, whatever the provider said.
struct TestResultDTO: Content {
    let success: Bool
    let status: String
    let testType: String
    let message: String
    let statusCode: Int?
    let durationMs: Int
    let details: JSONValue
    let logID: UUID?
    let healthScore: Int?

    enum CodingKeys: String, CodingKey {
        case success, status, message, details
        case testType = "test_type"
        case statusCode = "status_code"
        case durationMs = "duration_ms"
        case logID = "log_id"
        case healthScore = "health_score"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(success, forKey: .success)
        try container.encode(status, forKey: .status)
        try container.encode(testType, forKey: .testType)
        try container.encode(message, forKey: .message)
        try container.encode(statusCode, forKey: .statusCode)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(details, forKey: .details)
        try container.encode(logID, forKey: .logID)
        try container.encode(healthScore, forKey: .healthScore)
    }
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

    init(app: Application, logger: Logger? = nil) throws {
        db = app.db
        secrets = try app.integrationSecrets
        connectors = app.connectors
        providerTimeout = app.moeenConfiguration.providerTimeout
        self.logger = logger ?? app.logger
    }

    init(req: Request) throws {
        db = req.db
        secrets = try req.application.integrationSecrets
        connectors = req.application.connectors
        providerTimeout = req.application.moeenConfiguration.providerTimeout
        logger = req.logger
    }

    static let testTypes = ["connection", "send_message"]

    /// The longest a request/response field of a test log may be once encoded (longer ones are cut, visibly).
    static let logFieldLimit = 16 * 1024
    /// The longest `error_message` kept.
    static let errorMessageLimit = 2000

    func run(_ request: IntegrationTestRequest, by user: AuthenticatedUser?) async throws -> TestResultDTO {
        guard Self.testTypes.contains(request.testType) else {
            throw APIError.validation(field: "test_type", "must be one of \(Self.testTypes.joined(separator: ", "))")
        }
        let resolved = try await resolveSettings(request)
        let settings = resolved.settings
        let problems = IntegrationCatalog.validate(type: request.type, config: settings)
        guard problems.isEmpty else {
            throw APIError.validation(Dictionary(uniqueKeysWithValues: problems.map { ("config.\($0.key)", $0.value) }))
        }
        let recipient = try validatedRecipient(request)
        let testsStoredSettings = resolved.testsStoredSettings

        let row = request.integration
        if let row, testsStoredSettings {
            row.status = "testing"
            try await row.save(on: db)
        }

        let outcome = await execute(request.type, settings: settings, testType: request.testType, recipient: recipient)
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
                    return try await HealthRecorder(db: db).record(row, status: outcome.status, message: message, at: Date())
                }
            } catch {
                // Never leave the row `testing`: put back the status its last recorded test implies.
                if testsStoredSettings { await TestingStatus.restore(row, on: db, logger: logger) }
                throw error
            }
            logID = log.id
        }
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

    /// The settings a test runs with, and whether they are exactly the row's stored ones.
    struct ResolvedSettings {
        var settings: [String: String]
        var testsStoredSettings: Bool
    }

    /// The settings to test: the stored row's (secrets opened only when they may be used) with the
    /// request's edits laid over them under `SettingsEdits`' rule, and stored secrets dropped — 422 naming
    /// each — when a URL setting or Google's client id differs from the stored value.
    func resolveSettings(_ request: IntegrationTestRequest) async throws -> ResolvedSettings {
        let type = request.type
        let overrides = request.config ?? [:]
        guard let row = request.integration else {
            let edits = try SettingsEdits.parse(overrides, type: type, storedHints: [:])
            return ResolvedSettings(settings: edits.applied(to: [:]), testsStoredSettings: false)
        }
        guard row.integrationType == type.rawValue else {
            throw APIError.validation(field: "integration_type", "does not match the integration's type (\(row.integrationType))")
        }
        let stored = StoredConfig(row.config)
        let edits = try SettingsEdits.parse(overrides, type: type, storedHints: stored.secretHints)
        var storedPlain: [String: String] = [:]
        for (field, value) in stored.values where !StoredConfig.isSealedEntry(value) {
            storedPlain[field] = value.plainText
        }
        let changed = Self.credentialBoundFields(for: type).filter { field in
            IntegrationCatalog.resolved(type: type, config: storedPlain)[field]
                != IntegrationCatalog.resolved(type: type, config: edits.applied(to: storedPlain))[field]
        }
        let storedSecrets = Set(stored.values.compactMap { StoredConfig.isSealedEntry($0.value) ? $0.key : nil })
        let wanted = storedSecrets.filter { field in
            switch edits.edits[field] {
            case .none, .keep: true
            case .remove, .set: false
            }
        }
        if !changed.isEmpty, !wanted.isEmpty {
            let reason = "must be given with the request: stored secrets are used only with the stored "
                + changed.sorted().joined(separator: ", ")
            throw APIError.validation(Dictionary(uniqueKeysWithValues: wanted.sorted().map { ("config.\($0)", reason) }))
        }
        var base = storedPlain
        if !wanted.isEmpty {
            let opened = try await secrets.open(row, on: db)
            for field in wanted { base[field] = opened[field] }
        }
        let settings = edits.applied(to: base)
        return ResolvedSettings(
            settings: settings,
            testsStoredSettings: try await isUnchanged(edits, type: type, storedPlain: storedPlain, storedSecrets: storedSecrets, row: row)
        )
    }

    /// Whether the edits leave the stored settings as they are (then the test is of the stored row and
    /// counts in its health). A secret sent again is compared with the stored one only when it has to be.
    private func isUnchanged(
        _ edits: SettingsEdits, type: IntegrationType, storedPlain: [String: String], storedSecrets: Set<String>, row: IntegrationConfig
    ) async throws -> Bool {
        let secretNames = Set(IntegrationCatalog.secretFieldNames(for: type))
        var plainEdits = edits
        plainEdits.edits = edits.edits.filter { !secretNames.contains($0.key) }
        guard IntegrationCatalog.resolved(type: type, config: plainEdits.applied(to: storedPlain))
            == IntegrationCatalog.resolved(type: type, config: storedPlain)
        else { return false }
        var resent: [String: String] = [:]
        for (field, edit) in edits.edits where secretNames.contains(field) {
            switch edit {
            case .keep: continue
            case .remove: if storedSecrets.contains(field) { return false }
            case .set(let value):
                guard storedSecrets.contains(field) else { return false }
                resent[field] = value
            }
        }
        guard !resent.isEmpty else { return true }
        guard let opened = try? await secrets.open(row, on: db) else { return false }
        return resent.allSatisfy { opened[$0.key] == $0.value }
    }

    /// The settings that decide where credentials are sent: every URL setting that is not itself a secret,
    /// and Google's client id (its secret and refresh token belong to that client).
    static func credentialBoundFields(for type: IntegrationType) -> [String] {
        var fields = IntegrationCatalog.fields(for: type).filter { $0.kind == .url && !$0.secret }.map(\.name)
        if type == .googleCalendar { fields.append("client_id") }
        return fields
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

/// The result of a probe or a test send, in the shape the log and the answer need.
struct TestOutcome {
    var success: Bool
    var status: String
    var message: String
    var statusCode: Int?
    var details: [String: JSONValue]
    var exchanges: [RecordedExchange]
    var durationMs: Int

    init(probe: ProbeResult) {
        success = probe.success
        status = probe.status
        message = probe.message
        statusCode = probe.statusCode
        details = probe.details
        exchanges = probe.exchanges
        durationMs = probe.durationMs
    }

    init(receipt: SendReceipt, durationMs: Int) {
        success = true
        status = "success"
        message = "Test message accepted by the provider."
        statusCode = receipt.statusCode
        details = receipt.providerMessageId.map { ["provider_message_id": .string($0)] } ?? [:]
        exchanges = receipt.exchanges
        self.durationMs = durationMs
    }

    init(error: ProviderError, durationMs: Int) {
        success = false
        status = error.isTimeout ? "timeout" : "failed"
        message = error.message
        statusCode = error.httpStatus
        details = error.code.map { ["provider_error_code": .string($0)] } ?? [:]
        exchanges = []
        self.durationMs = durationMs
    }

    static func failure(_ message: String) -> TestOutcome {
        TestOutcome(error: ProviderError(kind: .permanent, category: .configuration, message: message), durationMs: 0)
    }

    func requestData(settings: [String: String], type: IntegrationType, recipient: String?) -> JSONValue {
        let secretNames = IntegrationCatalog.secretFieldNames(for: type)
        var visible: [String: JSONValue] = [:]
        for (field, value) in settings where !secretNames.contains(field) { visible[field] = .string(value) }
        var data: [String: JSONValue] = [
            "settings": .object(visible),
            "exchanges": .array(exchanges.map(\.json)),
        ]
        if let recipient { data["test_recipient"] = .string(recipient) }
        return .object(data)
    }

    var responseData: JSONValue {
        [
            "status": .string(status),
            "status_code": statusCode.map { .number($0) } ?? .null,
            "message": .string(message),
            "details": .object(details),
        ]
    }
}

extension RecordedExchange {
    var json: JSONValue {
        guard let data = try? JSONEncoder().encode(self), let value = JSONValue.parse(data) else { return .null }
        return value
    }
}

extension ContinuousClock.Instant {
    var elapsedMilliseconds: Int {
        let elapsed = ContinuousClock.now - self
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}
