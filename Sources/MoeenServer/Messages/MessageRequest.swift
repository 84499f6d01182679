import Foundation
import MoeenCore
import Vapor

/// The body of `POST /api/messages` (API.md "Messages"), as sent; `MessageIntake` checks it.
struct MessageRequest: Content {
    struct Template: Content, Equatable {
        var name: String
        var language: String
        var parameters: [String]?
    }

    var channel: String?
    var integrationConfigID: String?
    var to: String?
    var text: String?
    var template: Template?
    var subject: String?
    var html: String?
    var scheduledAt: String?
    var patientID: String?
    var contactID: String?
    var priority: String?
    var fallbackChannels: [String]?
    var fallbackTo: [String: String]?
    var fallbackAfter: Int?

    enum CodingKeys: String, CodingKey {
        case channel, to, text, template, subject, html, priority
        case integrationConfigID = "integration_config_id"
        case scheduledAt = "scheduled_at"
        case patientID = "patient_id"
        case contactID = "contact_id"
        case fallbackChannels = "fallback_channels"
        case fallbackTo = "fallback_to"
        case fallbackAfter = "fallback_after"
    }

    init(channel: String?, to: String?, text: String?, integrationConfigID: String? = nil) {
        self.channel = channel
        self.to = to
        self.text = text
        self.integrationConfigID = integrationConfigID
    }
}

/// RFC 3339 times as API.md takes them: `2026-12-01T09:00:00Z`, `…T12:00:00+03:00`, fractional seconds allowed.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count <= 40 else { return nil }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: trimmed) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: trimmed)
    }
}
