import Fluent
import Foundation
import MoeenCore

/// What an alert rule watches. The meaning of `threshold` depends on the kind (see ``thresholdMeaning``).
enum AlertKind: String, CaseIterable, Codable, Sendable {
    case healthBelow = "health_below"
    case consecutiveFailures = "consecutive_failures"
    case dispatchFailureRate = "dispatch_failure_rate"
    case queueAge = "queue_age"
    case deadMessages = "dead_messages"
    case signatureFailures = "signature_failures"
    case receiptsMissing = "receipts_missing"
    case credentialExpiry = "credential_expiry"

    /// What `threshold` means for the kind (API.md and the Alerts page say the same).
    var thresholdMeaning: String {
        switch self {
        case .healthBelow: "health score 0–100; fires while the score stays below it for the whole window"
        case .consecutiveFailures: "number of failed test connections / health checks in a row (2–100)"
        case .dispatchFailureRate: "fraction 0–1 of finished sends in the window that failed or died"
        case .queueAge: "seconds a queued message may wait past its due time"
        case .deadMessages: "number of dead messages in the window"
        case .signatureFailures: "number of webhook requests refused for their signature in the window"
        case .receiptsMissing: "minutes a sent message may wait for a delivery receipt"
        case .credentialExpiry: "days before credentials_expire_at of the first notice (then 7 and 1, and expired)"
        }
    }

    /// Whether the kind measures over `window` (and so needs one).
    var usesWindow: Bool {
        switch self {
        case .healthBelow, .dispatchFailureRate, .deadMessages, .signatureFailures, .receiptsMissing: true
        case .consecutiveFailures, .queueAge, .credentialExpiry: false
        }
    }

    /// Integration types the kind applies to; `nil` for all. Slack sends no receipts, and only messaging
    /// integrations have an outbox.
    var applicableTypes: Set<IntegrationType>? {
        switch self {
        case .receiptsMissing: [.whatsapp, .sms, .email]
        case .dispatchFailureRate, .queueAge, .deadMessages: [.whatsapp, .sms, .email, .slack]
        case .healthBelow, .consecutiveFailures, .signatureFailures, .credentialExpiry: nil
        }
    }
}

/// Whether an alert is still true.
enum AlertState: String, CaseIterable, Codable, Sendable {
    case open, resolved
}

/// A row of `alert_rules`: what to watch, where (one integration, a type, or all), and whom to tell.
final class AlertRule: Model, @unchecked Sendable {
    static let schema = "alert_rules"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "name") var name: String
    @Field(key: "kind") var kind: String
    /// Scope: one integration. With `integrationType` also `nil` the rule covers every integration.
    @OptionalField(key: "integration_config_id") var integrationConfigID: UUID?
    /// Scope: every integration of a type (`IntegrationType` raw value).
    @OptionalField(key: "integration_type") var integrationType: String?
    @OptionalField(key: "threshold") var threshold: Double?
    @OptionalField(key: "window_seconds") var windowSeconds: Int?
    @Field(key: "cooldown_seconds") var cooldownSeconds: Int
    /// `[{"integration_id": "int_…", "recipients": ["ops@…"]}]`: Slack or e-mail integrations, by public id.
    @Field(key: "channels") var channels: JSONValue
    @Field(key: "is_enabled") var isEnabled: Bool
    /// Seeded by the migration (an admin may still change or delete it).
    @Field(key: "is_default") var isDefault: Bool
    @OptionalField(key: "created_by") var createdBy: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    static let defaultCooldownSeconds = 3600

    var alertKind: AlertKind? { AlertKind(rawValue: kind) }

    /// The channels as typed values (entries that cannot be read are skipped).
    var channelList: [AlertChannel] {
        channels.arrayValue?.compactMap(AlertChannel.init(json:)) ?? []
    }

    /// Finds a rule by UUID or public id.
    static func find(idOrPublicID raw: String, on db: any Database) async throws -> AlertRule? {
        if let uuid = UUID(uuidString: raw) { return try await find(uuid, on: db) }
        guard PublicID.matches(raw, .alertRule) else { return nil }
        return try await query(on: db).filter(\.$publicID == raw).first()
    }
}

/// One place a rule's notifications go: a Slack integration, or an e-mail integration with recipients.
struct AlertChannel: Equatable, Sendable {
    /// The integration's public id.
    var integrationID: String
    /// E-mail addresses (normalised); empty for Slack.
    var recipients: [String]

    init(integrationID: String, recipients: [String] = []) {
        self.integrationID = integrationID
        self.recipients = recipients
    }

    init?(json: JSONValue) {
        guard let id = json["integration_id"]?.stringValue else { return nil }
        integrationID = id
        recipients = json["recipients"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    var json: JSONValue {
        var object: [String: JSONValue] = ["integration_id": .string(integrationID)]
        if !recipients.isEmpty { object["recipients"] = .array(recipients.map(JSONValue.string)) }
        return .object(object)
    }
}

/// A row of `alerts`: one firing of a rule about one subject, open until its condition clears.
final class Alert: Model, @unchecked Sendable {
    static let schema = "alerts"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Parent(key: "rule_id") var rule: AlertRule
    @OptionalField(key: "integration_config_id") var integrationConfigID: UUID?
    /// What the alert is about: the integration's public id.
    @Field(key: "subject") var subject: String
    @Field(key: "state") var state: String
    /// What is wrong, in plain English.
    @Field(key: "summary") var summary: String
    /// The measured value (score, count, fraction, seconds, minutes or days, as the rule's kind).
    @OptionalField(key: "value") var value: Double?
    @Field(key: "fired_at") var firedAt: Date
    @OptionalField(key: "last_notified_at") var lastNotifiedAt: Date?
    @Field(key: "notifications_sent") var notificationsSent: Int
    @OptionalField(key: "resolved_at") var resolvedAt: Date?
    /// Acknowledged alerts stay open until resolved but are not re-notified.
    @OptionalField(key: "acknowledged_at") var acknowledgedAt: Date?
    @OptionalField(key: "acknowledged_by") var acknowledgedBy: UUID?
    @OptionalField(key: "details") var details: JSONValue?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    var alertState: AlertState? { AlertState(rawValue: state) }

    /// Finds an alert by UUID or public id.
    static func find(idOrPublicID raw: String, on db: any Database) async throws -> Alert? {
        if let uuid = UUID(uuidString: raw) { return try await find(uuid, on: db) }
        guard PublicID.matches(raw, .alert) else { return nil }
        return try await query(on: db).filter(\.$publicID == raw).first()
    }
}
