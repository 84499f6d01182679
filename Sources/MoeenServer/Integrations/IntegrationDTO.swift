import Fluent
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
    /// Messaging types: `active`, `paused` (circuit open, or the provider asked to wait) or `half_open`
    /// (one trial send will decide); `null` for the others.
    let deliveryState: String?
    let deliveryStateReason: String?
    let deliveryStateUntil: Date?
    /// When the credentials stop (or stopped) working, if known (`CredentialExpiry`).
    let credentialsExpireAt: Date?
    let createdAt: Date?
    let updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, description, config, status, metadata
        case deliveryState = "delivery_state"
        case deliveryStateReason = "delivery_state_reason"
        case deliveryStateUntil = "delivery_state_until"
        case credentialsExpireAt = "credentials_expire_at"
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

    /// Every key present (`null` when unset).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(publicID, forKey: .publicID)
        try c.encode(integrationType, forKey: .integrationType)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(config, forKey: .config)
        try c.encode(status, forKey: .status)
        try c.encode(isEnabled, forKey: .isEnabled)
        try c.encode(lastTestAt, forKey: .lastTestAt)
        try c.encode(lastTestStatus, forKey: .lastTestStatus)
        try c.encode(lastTestMessage, forKey: .lastTestMessage)
        try c.encode(healthScore, forKey: .healthScore)
        try c.encode(webhookURL, forKey: .webhookURL)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(deliveryState, forKey: .deliveryState)
        try c.encode(deliveryStateReason, forKey: .deliveryStateReason)
        try c.encode(deliveryStateUntil, forKey: .deliveryStateUntil)
        try c.encode(credentialsExpireAt, forKey: .credentialsExpireAt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }

    /// The DTOs of `rows` with their delivery states, read in one query.
    static func many(_ rows: [IntegrationConfig], publicURL: String?, on db: any Database) async throws -> [IntegrationDTO] {
        let states = try await DeliveryPolicyStore(db: db).snapshots(rows.compactMap(\.id), now: Date())
        return try rows.map { try IntegrationDTO($0, publicURL: publicURL, delivery: $0.id.flatMap { states[$0] }) }
    }

    static func one(_ row: IntegrationConfig, publicURL: String?, on db: any Database) async throws -> IntegrationDTO {
        try await many([row], publicURL: publicURL, on: db)[0]
    }

    init(_ row: IntegrationConfig, publicURL: String?, delivery: DeliveryPolicyStore.Snapshot? = nil) throws {
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
        let sends = IntegrationType(rawValue: row.integrationType).flatMap(IntegrationCatalog.defaultRateLimit(for:)) != nil
        self.deliveryState = sends ? (delivery?.state ?? "active") : nil
        self.deliveryStateReason = sends ? delivery?.reason : nil
        self.deliveryStateUntil = sends ? delivery?.until : nil
        self.credentialsExpireAt = row.credentialsExpireAt
        self.createdAt = row.createdAt
        self.updatedAt = row.updatedAt
    }
}

/// The webhook path per provider (API.md "Webhooks").
enum WebhookPaths {
    static func segment(for type: String) -> String? {
        IntegrationType(rawValue: type).flatMap(WebhookProvider.init(type:))?.rawValue
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
