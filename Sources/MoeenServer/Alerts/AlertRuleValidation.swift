import Fluent
import Foundation
import MoeenCore
import Vapor

/// A rule's values once checked: what a create or an update writes.
struct AlertRuleDraft: Equatable, Sendable {
    var name: String
    var kind: AlertKind
    var integrationConfigID: UUID?
    var integrationType: String?
    var threshold: Double?
    var windowSeconds: Int?
    var cooldownSeconds: Int
    var channels: [AlertChannel]
    var isEnabled: Bool

    func apply(to rule: AlertRule) {
        rule.name = name
        rule.kind = kind.rawValue
        rule.integrationConfigID = integrationConfigID
        rule.integrationType = integrationType
        rule.threshold = threshold
        rule.windowSeconds = windowSeconds
        rule.cooldownSeconds = cooldownSeconds
        rule.channels = .array(channels.map(\.json))
        rule.isEnabled = isEnabled
    }
}

/// Checks a rule's input (API and Alerts page alike): 422 naming every field that is wrong, 409 for a taken name.
enum AlertRuleValidation {
    static let maximumNameLength = 120
    static let maximumChannels = 10
    static let maximumRecipients = 20
    /// Windows and cooldowns: one minute to a week.
    static let durationRange = 60...(7 * 24 * 3600)

    /// The input over `existing` (PATCH; absent members keep their values) or over the defaults (create),
    /// checked; throws 422 with every problem, or 409 when another rule has the name.
    static func validate(_ input: AlertRuleInput, existing: AlertRule?, on db: any Database) async throws -> AlertRuleDraft {
        let (draft, problems) = try await check(input, existing: existing, on: db)
        guard problems.isEmpty, let draft else { throw APIError.validation(problems) }
        if try await nameTaken(draft.name, excluding: existing?.id, on: db) {
            throw APIError.conflict("Another alert rule is named \"\(draft.name.capped(characters: 120))\"; choose another name.")
        }
        return draft
    }

    /// Whether another rule has this name.
    static func nameTaken(_ name: String, excluding id: UUID?, on db: any Database) async throws -> Bool {
        let query = AlertRule.query(on: db).filter(\.$name == name)
        if let id { query.filter(\.$id != id) }
        return try await query.count() > 0
    }

    /// The checked draft (when there are no problems) and the problems by field.
    static func check(_ input: AlertRuleInput, existing: AlertRule?, on db: any Database) async throws -> (AlertRuleDraft?, [String: String]) {
        var problems: [String: String] = [:]

        let rawName = input.has(.name) ? input.name : existing?.name
        let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty {
            problems["name"] = "required"
        } else if name.count > maximumNameLength {
            problems["name"] = "must be at most \(maximumNameLength) characters"
        } else if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            problems["name"] = "must not contain control characters"
        }

        let kinds = AlertKind.allCases.map(\.rawValue).joined(separator: ", ")
        let rawKind = input.has(.kind) ? input.kind : existing?.kind
        let kind = rawKind.flatMap(AlertKind.init(rawValue:))
        if kind == nil { problems["kind"] = rawKind == nil ? "required (one of \(kinds))" : "must be one of \(kinds)" }

        let scope = try await checkScope(input, existing: existing, kind: kind, on: db, problems: &problems)

        var threshold = input.has(.threshold) ? input.threshold : existing?.threshold
        if let kind {
            if kind == .credentialExpiry, threshold == nil { threshold = 14 }
            if let problem = thresholdProblem(threshold, kind: kind) { problems["threshold"] = problem }
        }

        var windowSeconds: Int?
        if let kind, kind.usesWindow {
            if !input.has(.window) {
                windowSeconds = existing?.windowSeconds
                if windowSeconds == nil { problems["window"] = "required for \(kind.rawValue) (e.g. 15m)" }
            } else if let raw = input.window {
                windowSeconds = durationSeconds(raw, field: "window", problems: &problems)
            } else {
                problems["window"] = "required for \(kind.rawValue) (e.g. 15m)"
            }
        } else if let kind, input.has(.window), input.window != nil {
            problems["window"] = "\(kind.rawValue) takes no window"
        }
        if kind == .receiptsMissing, let windowSeconds, let minutes = threshold, problems["threshold"] == nil,
           Double(windowSeconds) <= minutes * 60 {
            problems["window"] = "must be longer than the threshold (\(AlertJSON.number(minutes)) minutes)"
        }

        var cooldownSeconds = existing?.cooldownSeconds ?? AlertRule.defaultCooldownSeconds
        if input.has(.cooldown) {
            if let raw = input.cooldown {
                cooldownSeconds = durationSeconds(raw, field: "cooldown", problems: &problems) ?? cooldownSeconds
            } else {
                cooldownSeconds = AlertRule.defaultCooldownSeconds
            }
        }

        let channels: [AlertChannel]
        if input.has(.channels) {
            channels = try await checkChannels(input.channels ?? [], on: db, problems: &problems)
        } else {
            channels = existing?.channelList ?? []
        }

        let isEnabled = (input.has(.isEnabled) ? input.isEnabled : nil) ?? existing?.isEnabled ?? true

        guard problems.isEmpty, let kind else { return (nil, problems) }
        return (AlertRuleDraft(
            name: name, kind: kind, integrationConfigID: scope.integrationID, integrationType: scope.type,
            threshold: threshold, windowSeconds: kind.usesWindow ? windowSeconds : nil, cooldownSeconds: cooldownSeconds,
            channels: channels, isEnabled: isEnabled
        ), problems)
    }

    /// The scope: one integration (`integration_id`), a type (`integration_type`), or neither (all).
    private static func checkScope(
        _ input: AlertRuleInput, existing: AlertRule?, kind: AlertKind?, on db: any Database, problems: inout [String: String]
    ) async throws -> (integrationID: UUID?, type: String?) {
        var integrationID = existing?.integrationConfigID
        var integrationType: IntegrationType?
        if input.has(.integrationID) {
            integrationID = nil
            if let raw = input.integrationID {
                if let row = try await findIntegration(raw, on: db) {
                    integrationID = row.id
                    integrationType = IntegrationType(rawValue: row.integrationType)
                } else {
                    problems["integration_id"] = "no integration has this id"
                }
            }
        } else if let id = integrationID, let row = try await IntegrationConfig.find(id, on: db) {
            integrationType = IntegrationType(rawValue: row.integrationType)
        }
        let rawType = input.has(.integrationType) ? input.integrationType : existing?.integrationType
        var scopeType: IntegrationType?
        if let rawType {
            scopeType = IntegrationType(rawValue: rawType)
            if scopeType == nil {
                problems["integration_type"] = "must be one of \(IntegrationType.allCases.map(\.rawValue).joined(separator: ", "))"
            }
        }
        if rawType != nil, integrationID != nil || problems["integration_id"] != nil {
            problems["integration_type"] = "give integration_id (one integration) or integration_type (all of a type), not both"
        }
        if let kind, let applicable = kind.applicableTypes {
            let names = IntegrationType.allCases.filter(applicable.contains).map(\.rawValue).joined(separator: ", ")
            if let scopeType, !applicable.contains(scopeType) {
                problems["integration_type"] = "\(kind.rawValue) applies to \(names) integrations only"
            }
            if integrationID != nil, let integrationType, !applicable.contains(integrationType) {
                problems["integration_id"] = "is a \(integrationType.rawValue) integration; \(kind.rawValue) applies to \(names) only"
            }
        }
        return (integrationID, scopeType?.rawValue)
    }

    /// Why the threshold does not fit the kind, or `nil`.
    static func thresholdProblem(_ value: Double?, kind: AlertKind) -> String? {
        guard let value else { return "required for \(kind.rawValue): \(kind.thresholdMeaning)" }
        guard value.isFinite else { return "must be a number" }
        let whole = value == value.rounded()
        switch kind {
        case .healthBelow:
            return (1...100).contains(value) ? nil : "must be a health score from 1 to 100"
        case .consecutiveFailures:
            return whole && (2...100).contains(value) ? nil : "must be a whole number from 2 to 100"
        case .dispatchFailureRate:
            return value > 0 && value <= 1 ? nil : "must be a fraction above 0 and at most 1 (0.5 = half the sends)"
        case .queueAge:
            return whole && (10...604_800).contains(value) ? nil : "must be whole seconds from 10 to 604800"
        case .deadMessages, .signatureFailures:
            return whole && (1...1_000_000).contains(value) ? nil : "must be a whole number from 1 to 1000000"
        case .receiptsMissing:
            return whole && (1...1440).contains(value) ? nil : "must be whole minutes from 1 to 1440"
        case .credentialExpiry:
            return whole && (1...365).contains(value) ? nil : "must be whole days from 1 to 365"
        }
    }

    /// Seconds from DurationText (`15m`, `1h`, `90s`), within `durationRange`.
    private static func durationSeconds(_ raw: String, field: String, problems: inout [String: String]) -> Int? {
        let message = "must be a duration from 1m to 168h, like 15m, 1h or 90s"
        guard let duration = DurationText.parse(raw) else {
            problems[field] = message
            return nil
        }
        let (seconds, attoseconds) = duration.components
        guard attoseconds == 0, seconds <= Int64(durationRange.upperBound), durationRange.contains(Int(seconds)) else {
            problems[field] = message
            return nil
        }
        return Int(seconds)
    }

    private static func checkChannels(
        _ channels: [AlertRuleInput.Channel], on db: any Database, problems: inout [String: String]
    ) async throws -> [AlertChannel] {
        if channels.count > maximumChannels {
            problems["channels"] = "at most \(maximumChannels) channels"
            return []
        }
        var result: [AlertChannel] = []
        for (index, channel) in channels.enumerated() {
            let field = "channels[\(index)]"
            guard let raw = channel.integrationID, !raw.isEmpty else {
                problems["\(field).integration_id"] = "required (a Slack or e-mail integration)"
                continue
            }
            guard let row = try await findIntegration(raw, on: db) else {
                problems["\(field).integration_id"] = "no integration has this id"
                continue
            }
            let recipients = channel.recipients ?? []
            switch IntegrationType(rawValue: row.integrationType) {
            case .slack:
                if !recipients.isEmpty {
                    problems["\(field).recipients"] = "a Slack channel takes no recipients (the webhook names its channel)"
                }
                result.append(AlertChannel(integrationID: row.publicID))
            case .email:
                guard !recipients.isEmpty else {
                    problems["\(field).recipients"] = "required: at least one e-mail address"
                    continue
                }
                guard recipients.count <= maximumRecipients else {
                    problems["\(field).recipients"] = "at most \(maximumRecipients) addresses"
                    continue
                }
                var addresses: [String] = []
                for (position, recipient) in recipients.enumerated() {
                    if let address = EmailAddress.normalize(recipient) {
                        if !addresses.contains(address) { addresses.append(address) }
                    } else {
                        problems["\(field).recipients[\(position)]"] = "must be an e-mail address"
                    }
                }
                result.append(AlertChannel(integrationID: row.publicID, recipients: addresses))
            default:
                problems["\(field).integration_id"] = "is a \(row.integrationType) integration; alerts go to slack or email integrations"
            }
        }
        return result
    }

    /// An integration by UUID or public id.
    static func findIntegration(_ raw: String, on db: any Database) async throws -> IntegrationConfig? {
        if let uuid = UUID(uuidString: raw) { return try await IntegrationConfig.find(uuid, on: db) }
        guard PublicID.matches(raw, .integration) else { return nil }
        return try await IntegrationConfig.query(on: db).filter(\.$publicID == raw).first()
    }
}
