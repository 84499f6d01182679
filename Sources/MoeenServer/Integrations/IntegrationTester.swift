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
struct IntegrationTester {
    let req: Request

    static let testTypes = ["connection", "send_message"]

    func run(_ request: IntegrationTestRequest, by user: AuthenticatedUser?) async throws -> TestResultDTO {
        guard Self.testTypes.contains(request.testType) else {
            throw APIError.validation(field: "test_type", "must be one of \(Self.testTypes.joined(separator: ", "))")
        }
        let app = req.application
        let secrets = try app.integrationSecrets
        var stored: [String: String] = [:]
        if let row = request.integration {
            guard row.integrationType == request.type.rawValue else {
                throw APIError.validation(field: "integration_type", "does not match the integration's type (\(row.integrationType))")
            }
            stored = try await secrets.open(row, on: req.db)
        }
        let settings = try Self.merge(stored: stored, overrides: request.config ?? [:], type: request.type)
        let problems = IntegrationCatalog.validate(type: request.type, config: settings)
        guard problems.isEmpty else {
            throw APIError.validation(Dictionary(uniqueKeysWithValues: problems.map { ("config.\($0.key)", $0.value) }))
        }
        let recipient = try validatedRecipient(request)
        // Testing the stored settings (not unsaved ones) is what moves the row's health.
        let testsStoredSettings = request.integration != nil && IntegrationCatalog.resolved(type: request.type, config: settings)
            == IntegrationCatalog.resolved(type: request.type, config: stored)

        let row = request.integration
        if let row, testsStoredSettings {
            row.status = "testing"
            try await row.save(on: req.db)
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
            log.requestData = redactor.redact(outcome.requestData(settings: settings, type: request.type, recipient: recipient))
            log.responseData = redactor.redact(outcome.responseData)
            log.errorMessage = outcome.success ? nil : redactor.redact(outcome.message)
            log.durationMs = outcome.durationMs
            log.$testedBy.id = user?.id
            // The log row and the health it implies are written together: one commit, never one without the other.
            let message = redactor.redact(outcome.message)
            score = try await req.db.transaction { db in
                try await log.create(on: db)
                guard testsStoredSettings else { return nil }
                return try await HealthRecorder(db: db).record(row, status: outcome.status, message: message, at: Date())
            }
            logID = log.id
        }
        req.logger.info("integration test", metadata: [
            "integration": .string(row?.publicID ?? "unsaved"), "type": .string(request.type.rawValue),
            "test_type": .string(request.testType), "status": .string(outcome.status), "duration_ms": .stringConvertible(outcome.durationMs),
        ])
        return TestResultDTO(
            success: outcome.success, status: outcome.status, testType: request.testType,
            message: redactor.redact(outcome.message), statusCode: outcome.statusCode, durationMs: outcome.durationMs,
            details: redactor.redact(.object(outcome.details)), logID: logID, healthScore: score ?? row?.healthScore
        )
    }

    /// Stored settings overlaid with the request's: a new secret replaces, a hint or `{"set": true}` keeps,
    /// `null` removes; plain values replace or (null/empty) remove.
    static func merge(stored: [String: String], overrides: [String: JSONValue], type: IntegrationType) throws -> [String: String] {
        let secretNames = IntegrationCatalog.secretFieldNames(for: type)
        var result = stored
        var problems: [String: String] = [:]
        for (field, value) in overrides {
            switch value {
            case .null:
                result[field] = nil
            case .string(let text):
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if secretNames.contains(field) {
                    let isHint = trimmed.hasPrefix("…") && stored[field].map { trimmed == "…" + String($0.suffix(4)) } == true
                    if trimmed.isEmpty || isHint { continue }
                }
                result[field] = trimmed.isEmpty ? nil : trimmed
            case .object(let object) where secretNames.contains(field) && object["set"] != nil:
                continue
            case .number(let text):
                result[field] = text
            default:
                problems["config.\(field)"] = "must be a string"
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        return result
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
        let connectors = req.application.connectors
        if testType == "connection" {
            return TestOutcome(probe: await connectors.connector(for: type).probe(config: settings, timeout: req.moeenConfiguration.providerTimeout))
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
            let receipt = try await sender.send(message, config: settings, timeout: req.moeenConfiguration.providerTimeout)
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
