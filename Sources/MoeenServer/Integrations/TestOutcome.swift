import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
import MoeenSecrets
import Vapor

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
