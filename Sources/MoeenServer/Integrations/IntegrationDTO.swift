import Foundation
import MoeenCore
import Vapor

/// API.md's Integration. Secret settings appear only as `{"set": true, "hint": "…9f2c"}`.
struct IntegrationDTO: Content {
    let id: UUID
    let publicID: String
    let integrationType: String
    let name: String
    let description: String?
    let config: JSONValue
    let status: String
    let isEnabled: Bool
    let lastTestAt: Date?
    let lastTestStatus: String?
    let lastTestMessage: String?
    let healthScore: Int
    let webhookURL: String?
    let metadata: JSONValue
    let createdAt: Date?
    let updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, description, config, status, metadata
        case publicID = "public_id"
        case integrationType = "integration_type"
        case isEnabled = "is_enabled"
        case lastTestAt = "last_test_at"
        case lastTestStatus = "last_test_status"
        case lastTestMessage = "last_test_message"
        case healthScore = "health_score"
        case webhookURL = "webhook_url"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    init(_ row: IntegrationConfig, publicURL: String?) throws {
        self.id = try row.requireID()
        self.publicID = row.publicID
        self.integrationType = row.integrationType
        self.name = row.name
        self.description = row.description
        self.config = StoredConfig(row.config).publicView
        self.status = row.status
        self.isEnabled = row.isEnabled
        self.lastTestAt = row.lastTestAt
        self.lastTestStatus = row.lastTestStatus
        self.lastTestMessage = row.lastTestMessage
        self.healthScore = row.healthScore
        self.webhookURL = publicURL.flatMap { WebhookPaths.url(base: $0, type: row.integrationType, publicID: row.publicID) }
        self.metadata = row.metadata
        self.createdAt = row.createdAt
        self.updatedAt = row.updatedAt
    }
}

/// The webhook path per provider (API.md "Webhooks").
enum WebhookPaths {
    static func segment(for type: String) -> String? {
        switch type {
        case "whatsapp": "whatsapp"
        case "sms": "twilio"
        case "email": "sendgrid"
        case "google_calendar": "google-calendar"
        case "slack": "slack"
        default: nil
        }
    }

    static func url(base: String, type: String, publicID: String) -> String? {
        segment(for: type).map { "\(base)/webhooks/\($0)/\(publicID)" }
    }
}

/// How `integration_configs.config` is stored: plain settings as JSON values; each secret setting as
/// `{"sealed": "<MoeenSecrets ciphertext>", "hint": "9f2c"}` (the hint is the secret's last four characters).
struct StoredConfig {
    var values: [String: JSONValue]

    init(_ json: JSONValue) {
        values = json.objectValue ?? [:]
    }

    static func isSealedEntry(_ value: JSONValue) -> Bool {
        value["sealed"]?.stringValue != nil
    }

    /// The settings as the audit log keeps them: secrets only as `{"set": true}` (no hint).
    var auditView: JSONValue {
        .object(values.mapValues { Self.isSealedEntry($0) ? ["set": true] : $0 })
    }

    /// The settings as the API shows them: secrets replaced by `{"set", "hint"}`.
    var publicView: JSONValue {
        var view: [String: JSONValue] = [:]
        for (key, value) in values {
            if Self.isSealedEntry(value) {
                var entry: [String: JSONValue] = ["set": true]
                if let hint = value["hint"]?.stringValue { entry["hint"] = .string("…" + hint) }
                view[key] = .object(entry)
            } else {
                view[key] = value
            }
        }
        return .object(view)
    }
}
