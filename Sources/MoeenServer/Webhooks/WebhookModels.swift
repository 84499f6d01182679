import Fluent
import Foundation
import MoeenCore

/// A row of `webhook_events`.
final class WebhookEvent: Model, @unchecked Sendable {
    static let schema = "webhook_events"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "provider") var provider: String
    @Field(key: "integration_config_id") var integrationID: UUID
    @Field(key: "event_id") var eventID: String
    @Field(key: "event_type") var eventType: String
    /// As received (parsed JSON, or the form as an object); shown masked.
    @Field(key: "payload") var payload: JSONValue
    @Field(key: "received_at") var receivedAt: Date
    /// Not processed before this time (a status that arrived before its message's send was recorded waits a little).
    @Field(key: "process_after") var processAfter: Date
    @OptionalField(key: "processed_at") var processedAt: Date?
    /// `applied`, `unchanged`, `unknown_message`, `inbound`, `opt_out`, `opt_in`, `recorded`, `failed`.
    @OptionalField(key: "outcome") var outcome: String?
    @OptionalField(key: "processing_error") var processingError: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// A row of `inbound_messages`.
final class InboundMessage: Model, @unchecked Sendable {
    static let schema = "inbound_messages"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "channel") var channel: String
    @OptionalField(key: "integration_config_id") var integrationID: UUID?
    @OptionalField(key: "webhook_event_id") var webhookEventID: UUID?
    @Field(key: "from_address") var from: String
    @OptionalField(key: "to_address") var to: String?
    @OptionalField(key: "text") var text: String?
    @OptionalField(key: "provider_message_id") var providerMessageID: String?
    @Field(key: "received_at") var receivedAt: Date
    @OptionalField(key: "patient_id") var patientID: UUID?
    @OptionalField(key: "contact_id") var contactID: UUID?
    /// `opt_out` or `opt_in` when the reply was STOP or START.
    @OptionalField(key: "opt_out_action") var optOutAction: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// The webhook providers of API.md, the path segment each uses, and the integration type behind it.
enum WebhookProvider: String, CaseIterable, Sendable {
    case whatsapp, twilio, sendgrid, slack
    case googleCalendar = "google-calendar"
    case seha, tatman

    var integrationType: IntegrationType {
        switch self {
        case .whatsapp: .whatsapp
        case .twilio: .sms
        case .sendgrid: .email
        case .slack: .slack
        case .googleCalendar: .googleCalendar
        case .seha: .seha
        case .tatman: .tatman
        }
    }

    init?(type: IntegrationType) {
        guard let provider = Self.allCases.first(where: { $0.integrationType == type }) else { return nil }
        self = provider
    }
}
