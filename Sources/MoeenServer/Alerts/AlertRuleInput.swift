import Foundation
import MoeenCore
import Vapor

/// The body of `POST /api/alert-rules` and `PATCH /api/alert-rules/{id}`, as sent. Remembers which members
/// were present so a PATCH can clear one with `null` (`"integration_id": null`) and leave absent ones alone.
struct AlertRuleInput: Content {
    struct Channel: Codable, Equatable, Sendable {
        var integrationID: String?
        var recipients: [String]?

        enum CodingKeys: String, CodingKey {
            case recipients
            case integrationID = "integration_id"
        }

        init(integrationID: String?, recipients: [String]? = nil) {
            self.integrationID = integrationID
            self.recipients = recipients
        }
    }

    var name: String?
    var kind: String?
    var integrationID: String?
    var integrationType: String?
    var threshold: Double?
    var window: String?
    var channels: [Channel]?
    var cooldown: String?
    var isEnabled: Bool?
    /// The members the body carried (with a value or `null`).
    var present: Set<String> = []

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, threshold, window, channels, cooldown
        case integrationID = "integration_id"
        case integrationType = "integration_type"
        case isEnabled = "is_enabled"
    }

    /// A complete input (every member counts as present), e.g. from the Alerts page's form.
    init(name: String?, kind: String?, integrationID: String? = nil, integrationType: String? = nil,
         threshold: Double? = nil, window: String? = nil, channels: [Channel]? = nil, cooldown: String? = nil,
         isEnabled: Bool? = nil) {
        self.name = name
        self.kind = kind
        self.integrationID = integrationID
        self.integrationType = integrationType
        self.threshold = threshold
        self.window = window
        self.channels = channels
        self.cooldown = cooldown
        self.isEnabled = isEnabled
        present = Set(CodingKeys.allCases.map(\.rawValue))
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        present = Set(container.allKeys.map(\.rawValue))
        name = try Self.decode(container, .name)
        kind = try Self.decode(container, .kind)
        integrationID = try Self.decode(container, .integrationID)
        integrationType = try Self.decode(container, .integrationType)
        window = try Self.decode(container, .window)
        cooldown = try Self.decode(container, .cooldown)
        do {
            threshold = try container.decodeIfPresent(Double.self, forKey: .threshold)
        } catch {
            throw APIError.validation(field: "threshold", "must be a number")
        }
        do {
            channels = try container.decodeIfPresent([Channel].self, forKey: .channels)
        } catch {
            throw APIError.validation(field: "channels", "must be a list of {\"integration_id\": …, \"recipients\": [e-mail…]}")
        }
        do {
            isEnabled = try container.decodeIfPresent(Bool.self, forKey: .isEnabled)
        } catch {
            throw APIError.validation(field: "is_enabled", "must be true or false")
        }
    }

    private static func decode(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> String? {
        do {
            return try container.decodeIfPresent(String.self, forKey: key)
        } catch {
            throw APIError.validation(field: key.rawValue, "must be a string")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(kind, forKey: .kind)
        try container.encodeIfPresent(integrationID, forKey: .integrationID)
        try container.encodeIfPresent(integrationType, forKey: .integrationType)
        try container.encodeIfPresent(threshold, forKey: .threshold)
        try container.encodeIfPresent(window, forKey: .window)
        try container.encodeIfPresent(channels, forKey: .channels)
        try container.encodeIfPresent(cooldown, forKey: .cooldown)
        try container.encodeIfPresent(isEnabled, forKey: .isEnabled)
    }

    func has(_ key: CodingKeys) -> Bool { present.contains(key.rawValue) }
}
