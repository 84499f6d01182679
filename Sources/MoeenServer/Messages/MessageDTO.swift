import Fluent
import Foundation
import MoeenCore
import Vapor

/// API.md's Message, with its events. Viewers see the recipient masked (and masked wherever an error or
/// event repeats it).
struct MessageDTO: Content {
    struct Event: Content {
        let at: Date
        let status: String
        let source: String
        let detail: String?
    }

    let id: UUID
    let publicID: String
    let channel: String
    let integrationConfigID: UUID
    let patientID: UUID?
    let contactID: UUID?
    let parentID: UUID?
    let to: String
    let text: String?
    let subject: String?
    let template: JSONValue?
    let status: String
    let priority: String
    let attempts: Int
    let maxAttempts: Int
    let nextAttemptAt: Date?
    let lastError: String?
    let lastErrorCode: String?
    let providerMessageID: String?
    let scheduledAt: Date?
    let createdAt: Date?
    let updatedAt: Date?
    let sentAt: Date?
    let deliveredAt: Date?
    let readAt: Date?
    let failedAt: Date?
    let fallbackChannels: [String]
    let fallbackAfter: Int?
    let events: [Event]
    /// The whole fallback chain this message belongs to, first message first (only on `GET /api/messages/{id}`).
    var chain: [Link]?

    struct Link: Content {
        let id: UUID
        let publicID: String
        let channel: String
        let status: String
        let parentID: UUID?

        enum CodingKeys: String, CodingKey {
            case id, channel, status
            case publicID = "public_id"
            case parentID = "parent_id"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, channel, to, text, subject, template, status, priority, attempts, events
        case publicID = "public_id"
        case integrationConfigID = "integration_config_id"
        case patientID = "patient_id"
        case contactID = "contact_id"
        case parentID = "parent_id"
        case maxAttempts = "max_attempts"
        case nextAttemptAt = "next_attempt_at"
        case lastError = "last_error"
        case lastErrorCode = "last_error_code"
        case providerMessageID = "provider_message_id"
        case scheduledAt = "scheduled_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case sentAt = "sent_at"
        case deliveredAt = "delivered_at"
        case readAt = "read_at"
        case failedAt = "failed_at"
        case fallbackChannels = "fallback_channels"
        case fallbackAfter = "fallback_after"
        case chain
    }

    /// Every key present (`null` when unset), as API.md lists them.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(publicID, forKey: .publicID)
        try c.encode(channel, forKey: .channel)
        try c.encode(integrationConfigID, forKey: .integrationConfigID)
        try c.encode(patientID, forKey: .patientID)
        try c.encode(contactID, forKey: .contactID)
        try c.encode(parentID, forKey: .parentID)
        try c.encode(to, forKey: .to)
        try c.encode(text, forKey: .text)
        try c.encode(subject, forKey: .subject)
        try c.encode(template, forKey: .template)
        try c.encode(status, forKey: .status)
        try c.encode(priority, forKey: .priority)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(lastErrorCode, forKey: .lastErrorCode)
        try c.encode(providerMessageID, forKey: .providerMessageID)
        try c.encode(scheduledAt, forKey: .scheduledAt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(sentAt, forKey: .sentAt)
        try c.encode(deliveredAt, forKey: .deliveredAt)
        try c.encode(readAt, forKey: .readAt)
        try c.encode(failedAt, forKey: .failedAt)
        try c.encode(fallbackChannels, forKey: .fallbackChannels)
        try c.encode(fallbackAfter, forKey: .fallbackAfter)
        try c.encode(events, forKey: .events)
        try c.encodeIfPresent(chain, forKey: .chain)
    }

    init(_ row: OutboundMessage, events: [MessageEvent], masked: Bool) throws {
        let mask: (String?) -> String? = { text in
            guard masked, let text else { return text }
            return text.replacingOccurrences(of: row.recipient, with: Self.maskedRecipient(row))
        }
        id = try row.requireID()
        publicID = row.publicID
        channel = row.channel
        integrationConfigID = row.$integration.id
        patientID = row.patientID
        contactID = row.contactID
        parentID = row.parentID
        to = masked ? Self.maskedRecipient(row) : row.recipient
        text = row.text
        subject = row.subject
        template = row.template
        status = row.status
        priority = row.priority
        attempts = row.attempts
        maxAttempts = row.maxAttempts
        nextAttemptAt = row.nextAttemptAt
        lastError = mask(row.lastError)
        lastErrorCode = row.lastErrorCode
        providerMessageID = row.providerMessageID
        scheduledAt = row.scheduledAt
        createdAt = row.createdAt
        updatedAt = row.updatedAt
        sentAt = row.sentAt
        deliveredAt = row.deliveredAt
        readAt = row.readAt
        failedAt = row.failedAt
        fallbackChannels = row.fallbackChannelList.map(\.rawValue)
        fallbackAfter = row.fallbackAfter
        chain = nil
        self.events = events.map { Event(at: $0.at, status: $0.status, source: $0.source, detail: mask($0.detail)) }
    }

    static func maskedRecipient(_ row: OutboundMessage) -> String {
        switch row.messageChannel {
        case .whatsapp, .sms: PhoneNumber.masked(row.recipient)
        case .email: EmailAddress.masked(row.recipient)
        case .slack, nil: row.recipient
        }
    }

    /// The DTOs of `rows` with their events, loaded in one query.
    static func many(_ rows: [OutboundMessage], masked: Bool, on db: any Database) async throws -> [MessageDTO] {
        let ids = rows.compactMap(\.id)
        guard !ids.isEmpty else { return [] }
        let events = try await MessageEvent.query(on: db).filter(\.$messageID ~~ ids)
            .sort(\.$at).sort(\.$id).all()
        let byMessage = Dictionary(grouping: events, by: \.messageID)
        return try rows.map { try MessageDTO($0, events: byMessage[$0.id ?? UUID()] ?? [], masked: masked) }
    }

    static func one(_ row: OutboundMessage, masked: Bool, on db: any Database) async throws -> MessageDTO {
        try await many([row], masked: masked, on: db)[0]
    }

    /// The fallback chain of `row`: up to its first message, then down through every fallback made from it.
    static func chain(of row: OutboundMessage, on db: any Database) async throws -> [Link] {
        var root = row
        var seen: Set<UUID> = [try row.requireID()]
        while let parentID = root.parentID, seen.count < 16, let parent = try await OutboundMessage.find(parentID, on: db) {
            guard seen.insert(parentID).inserted else { break }
            root = parent
        }
        var links: [Link] = []
        var level = [root]
        while !level.isEmpty, links.count < 16 {
            for message in level {
                links.append(Link(id: try message.requireID(), publicID: message.publicID, channel: message.channel,
                                  status: message.status, parentID: message.parentID))
            }
            let ids = level.compactMap(\.id)
            level = try await OutboundMessage.query(on: db).filter(\.$parentID ~~ ids).sort(\.$createdAt).all()
        }
        return links
    }
}
