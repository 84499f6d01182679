import Fluent
import Foundation
import MoeenCore

/// A messaging channel and the integration type that serves it.
enum MessageChannel: String, CaseIterable, Codable, Sendable {
    case whatsapp, sms, email, slack

    var integrationType: IntegrationType {
        switch self {
        case .whatsapp: .whatsapp
        case .sms: .sms
        case .email: .email
        case .slack: .slack
        }
    }

    /// The longest text the channel takes (API.md: SMS 1,600 characters, WhatsApp 4,096).
    var textLimit: Int? {
        switch self {
        case .sms: 1600
        case .whatsapp: 4096
        case .slack: 40_000
        case .email: nil
        }
    }
}

/// Where a message is in its life. `queued` and `sending` are the dispatcher's; the rest are outcomes.
enum MessageStatus: String, CaseIterable, Codable, Sendable {
    case queued, sending, sent, delivered, read, failed, dead, cancelled

    /// States a retry can start from.
    static let retryable: Set<MessageStatus> = [.failed, .dead]
}

/// Who changed a message's state.
enum MessageEventSource: String, CaseIterable, Codable, Sendable {
    case api, dispatcher, webhook, `operator`
}

/// A row of `outbound_messages`.
final class OutboundMessage: Model, @unchecked Sendable {
    static let schema = "outbound_messages"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "channel") var channel: String
    @Parent(key: "integration_config_id") var integration: IntegrationConfig
    @OptionalField(key: "patient_id") var patientID: UUID?
    /// The CRM contact the message was sent to (`contact_id` in the request).
    @OptionalField(key: "contact_id") var contactID: UUID?
    @OptionalField(key: "parent_id") var parentID: UUID?
    @Field(key: "recipient") var recipient: String
    @OptionalField(key: "text") var text: String?
    @OptionalField(key: "subject") var subject: String?
    @OptionalField(key: "html") var html: String?
    @OptionalField(key: "template") var template: JSONValue?
    @Field(key: "priority") var priority: String
    @Field(key: "status") var status: String
    @Field(key: "attempts") var attempts: Int
    @Field(key: "max_attempts") var maxAttempts: Int
    @OptionalField(key: "next_attempt_at") var nextAttemptAt: Date?
    @OptionalField(key: "lease_owner") var leaseOwner: String?
    @OptionalField(key: "lease_expires_at") var leaseExpiresAt: Date?
    @OptionalField(key: "last_error") var lastError: String?
    @OptionalField(key: "last_error_code") var lastErrorCode: String?
    @OptionalField(key: "provider_message_id") var providerMessageID: String?
    @OptionalField(key: "idempotency_key") var idempotencyKey: String?
    @OptionalField(key: "request_hash") var requestHash: String?
    @OptionalField(key: "scheduled_at") var scheduledAt: Date?
    @OptionalField(key: "sent_at") var sentAt: Date?
    @OptionalField(key: "delivered_at") var deliveredAt: Date?
    @OptionalField(key: "read_at") var readAt: Date?
    @OptionalField(key: "failed_at") var failedAt: Date?
    @OptionalField(key: "created_by") var createdBy: UUID?
    /// Channels still to try, in order, when this message fails, dies or is not delivered in time.
    @OptionalField(key: "fallback_channels") var fallbackChannels: JSONValue?
    /// The recipient on each fallback channel, normalised (`{"sms": "+9665…", "email": "…"}`).
    @OptionalField(key: "fallback_to") var fallbackTo: JSONValue?
    /// Seconds after acceptance by which the message must be `delivered`, or the fallback is made.
    @OptionalField(key: "fallback_after") var fallbackAfter: Int?
    @OptionalField(key: "fallback_due_at") var fallbackDueAt: Date?
    /// The fallback was made (or found impossible): never twice.
    @Field(key: "fallback_done") var fallbackDone: Bool
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    /// The fallback channels in order.
    var fallbackChannelList: [MessageChannel] {
        fallbackChannels?.arrayValue?.compactMap { $0.stringValue.flatMap(MessageChannel.init(rawValue:)) } ?? []
    }

    var messageStatus: MessageStatus? { MessageStatus(rawValue: status) }
    var messageChannel: MessageChannel? { MessageChannel(rawValue: channel) }

    /// Finds a message by UUID or public id.
    static func find(idOrPublicID raw: String, on db: any Database) async throws -> OutboundMessage? {
        if let uuid = UUID(uuidString: raw) { return try await find(uuid, on: db) }
        guard PublicID.matches(raw, .message) else { return nil }
        return try await query(on: db).filter(\.$publicID == raw).first()
    }
}

/// A row of `message_events`.
final class MessageEvent: Model, @unchecked Sendable {
    static let schema = "message_events"

    @ID(key: .id) var id: UUID?
    @Field(key: "message_id") var messageID: UUID
    @Field(key: "at") var at: Date
    @Field(key: "status") var status: String
    @Field(key: "source") var source: String
    @OptionalField(key: "detail") var detail: String?

    init() {}

    init(messageID: UUID, at: Date, status: MessageStatus, source: MessageEventSource, detail: String? = nil) {
        self.id = OrderedUUID.next()
        self.messageID = messageID
        self.at = at
        self.status = status.rawValue
        self.source = source.rawValue
        self.detail = detail.map { $0.capped(characters: MessageEvent.detailLimit) }
    }

    /// The longest detail kept (provider error texts can be long).
    static let detailLimit = 1000
}
