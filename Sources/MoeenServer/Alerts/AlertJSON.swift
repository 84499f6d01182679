import Fluent
import Foundation
import MoeenCore
import Vapor

/// A rule as the API shows it (alerts-schema.md): public ids, durations as `DurationText`.
struct AlertRuleDTO: Content, Equatable {
    struct Channel: Content, Equatable {
        let integrationID: String
        let recipients: [String]?

        enum CodingKeys: String, CodingKey {
            case recipients
            case integrationID = "integration_id"
        }
    }

    let id: String
    let name: String
    let kind: String
    let integrationID: String?
    let integrationType: String?
    let threshold: Double?
    let window: String?
    let channels: [Channel]
    let cooldown: String
    let isEnabled: Bool
    let isDefault: Bool
    let createdAt: Date?
    let updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, kind, threshold, window, channels, cooldown
        case integrationID = "integration_id"
        case integrationType = "integration_type"
        case isEnabled = "is_enabled"
        case isDefault = "is_default"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// - Parameter integrations: public ids by row id (see ``AlertJSON/integrationPublicIDs(_:on:)``).
    init(_ rule: AlertRule, integrations: [UUID: String]) {
        id = rule.publicID
        name = rule.name
        kind = rule.kind
        integrationID = rule.integrationConfigID.flatMap { integrations[$0] }
        integrationType = rule.integrationType
        threshold = rule.threshold
        window = rule.windowSeconds.map { DurationText.format(.seconds($0)) }
        channels = rule.channelList.map { Channel(integrationID: $0.integrationID, recipients: $0.recipients.isEmpty ? nil : $0.recipients) }
        cooldown = DurationText.format(.seconds(rule.cooldownSeconds))
        isEnabled = rule.isEnabled
        isDefault = rule.isDefault
        createdAt = rule.createdAt
        updatedAt = rule.updatedAt
    }

    /// Optional members are left out when `nil` (the schema's `"integration_id"?`).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(integrationID, forKey: .integrationID)
        try container.encodeIfPresent(integrationType, forKey: .integrationType)
        try container.encodeIfPresent(threshold, forKey: .threshold)
        try container.encodeIfPresent(window, forKey: .window)
        try container.encode(channels, forKey: .channels)
        try container.encode(cooldown, forKey: .cooldown)
        try container.encode(isEnabled, forKey: .isEnabled)
        try container.encode(isDefault, forKey: .isDefault)
        try container.encodeIfPresent(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(updatedAt, forKey: .updatedAt)
    }

    /// The rule as an audit row stores it (the channels' recipients are the centre's own addresses).
    var auditJSON: JSONValue {
        var object: [String: JSONValue] = [
            "public_id": .string(id), "name": .string(name), "kind": .string(kind),
            "cooldown": .string(cooldown), "is_enabled": .bool(isEnabled), "is_default": .bool(isDefault),
            "channels": .array(channels.map { channel in
                var entry: [String: JSONValue] = ["integration_id": .string(channel.integrationID)]
                if let recipients = channel.recipients { entry["recipients"] = .array(recipients.map(JSONValue.string)) }
                return .object(entry)
            }),
        ]
        if let integrationID { object["integration_id"] = .string(integrationID) }
        if let integrationType { object["integration_type"] = .string(integrationType) }
        if let threshold { object["threshold"] = .number(AlertJSON.number(threshold)) }
        if let window { object["window"] = .string(window) }
        return .object(object)
    }
}

/// An alert as the API shows it.
struct AlertDTO: Content, Equatable {
    let id: String
    let ruleID: String
    let ruleName: String
    let kind: String
    let integrationID: String?
    let subject: String
    let state: String
    let summary: String
    let value: Double?
    let firedAt: Date
    let lastNotifiedAt: Date?
    let notificationsSent: Int
    let resolvedAt: Date?
    let acknowledgedAt: Date?
    /// The user who acknowledged it (UUID).
    let acknowledgedBy: String?
    let details: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, kind, subject, state, summary, value, details
        case ruleID = "rule_id"
        case ruleName = "rule_name"
        case integrationID = "integration_id"
        case firedAt = "fired_at"
        case lastNotifiedAt = "last_notified_at"
        case notificationsSent = "notifications_sent"
        case resolvedAt = "resolved_at"
        case acknowledgedAt = "acknowledged_at"
        case acknowledgedBy = "acknowledged_by"
    }

    /// - Parameters:
    ///   - rule: the alert's rule (load with `.with(\.$rule)`).
    ///   - integrations: public ids by row id.
    init(_ alert: Alert, rule: AlertRule, integrations: [UUID: String]) {
        id = alert.publicID
        ruleID = rule.publicID
        ruleName = rule.name
        kind = rule.kind
        integrationID = alert.integrationConfigID.flatMap { integrations[$0] }
        subject = alert.subject
        state = alert.state
        summary = alert.summary
        value = alert.value
        firedAt = alert.firedAt
        lastNotifiedAt = alert.lastNotifiedAt
        notificationsSent = alert.notificationsSent
        resolvedAt = alert.resolvedAt
        acknowledgedAt = alert.acknowledgedAt
        acknowledgedBy = alert.acknowledgedBy.map { $0.uuidString.lowercased() }
        details = alert.details
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(ruleID, forKey: .ruleID)
        try container.encode(ruleName, forKey: .ruleName)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(integrationID, forKey: .integrationID)
        try container.encode(subject, forKey: .subject)
        try container.encode(state, forKey: .state)
        try container.encode(summary, forKey: .summary)
        try container.encodeIfPresent(value, forKey: .value)
        try container.encode(firedAt, forKey: .firedAt)
        try container.encodeIfPresent(lastNotifiedAt, forKey: .lastNotifiedAt)
        try container.encode(notificationsSent, forKey: .notificationsSent)
        try container.encodeIfPresent(resolvedAt, forKey: .resolvedAt)
        try container.encodeIfPresent(acknowledgedAt, forKey: .acknowledgedAt)
        try container.encodeIfPresent(acknowledgedBy, forKey: .acknowledgedBy)
        try container.encodeIfPresent(details, forKey: .details)
    }
}

/// Shaping helpers shared by the API and the Alerts page.
enum AlertJSON {
    /// Integration public ids by row id, for the rows' `integration_config_id`s (one query).
    static func integrationPublicIDs(_ ids: some Sequence<UUID?>, on db: any Database) async throws -> [UUID: String] {
        let wanted = Array(Set(ids.compactMap { $0 }))
        guard !wanted.isEmpty else { return [:] }
        let rows = try await IntegrationConfig.query(on: db).filter(\.$id ~~ wanted).all()
        return Dictionary(rows.compactMap { row in row.id.map { ($0, row.publicID) } }, uniquingKeysWith: { first, _ in first })
    }

    static func ruleDTOs(_ rules: [AlertRule], on db: any Database) async throws -> [AlertRuleDTO] {
        let ids = try await integrationPublicIDs(rules.map(\.integrationConfigID), on: db)
        return rules.map { AlertRuleDTO($0, integrations: ids) }
    }

    /// The alerts' DTOs; each alert's rule must be loaded (`.with(\.$rule)`).
    static func alertDTOs(_ alerts: [Alert], on db: any Database) async throws -> [AlertDTO] {
        let ids = try await integrationPublicIDs(alerts.map(\.integrationConfigID), on: db)
        return alerts.map { AlertDTO($0, rule: $0.rule, integrations: ids) }
    }

    /// A threshold as JSON number text (`50`, `0.5`).
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// RFC 3339 UTC text of a time, to the second (`2026-11-29T15:40:00Z`), as notifications and audit rows write it.
enum RFC3339Text {
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
