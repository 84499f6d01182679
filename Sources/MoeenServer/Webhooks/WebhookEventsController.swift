import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// `GET /api/integrations/{id}/webhook-events` (newest first, cursor) and `GET /api/inbound-messages`.
struct WebhookEventsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let readers = routes.grouped(RequireRole(role: .viewer))
        readers.get("integrations", ":id", "webhook-events", use: events)
        readers.get("inbound-messages", use: inbound)
    }

    struct EventDTO: Content {
        let id: UUID
        let publicID: String
        let provider: String
        let eventID: String
        let eventType: String
        let receivedAt: Date
        let processedAt: Date?
        let outcome: String?
        let processingError: String?
        /// Patients' numbers, addresses and message texts masked.
        let payload: JSONValue

        enum CodingKeys: String, CodingKey {
            case id, provider, outcome, payload
            case publicID = "public_id"
            case eventID = "event_id"
            case eventType = "event_type"
            case receivedAt = "received_at"
            case processedAt = "processed_at"
            case processingError = "processing_error"
        }

        init(_ row: WebhookEvent) throws {
            id = try row.requireID()
            publicID = row.publicID
            provider = row.provider
            eventID = row.eventID
            eventType = row.eventType
            receivedAt = row.receivedAt
            processedAt = row.outcome == nil ? nil : row.processedAt
            outcome = row.outcome
            processingError = row.processingError
            payload = PayloadMasking.masked(row.payload)
        }
    }

    struct EventsPage: Content {
        let data: [EventDTO]
        let nextCursor: String?
        /// Requests refused for a missing, wrong or stale signature (nothing of them is kept but this count).
        let rejectedSignatures: Int64
        let lastRejectedAt: Date?
        /// Why the last one was refused (`missing setting app_secret`, `signature mismatch`…).
        let lastRejectionReason: String?

        enum CodingKeys: String, CodingKey {
            case data
            case nextCursor = "next_cursor"
            case rejectedSignatures = "rejected_signatures"
            case lastRejectedAt = "last_rejected_at"
            case lastRejectionReason = "last_rejection_reason"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(data, forKey: .data)
            try c.encode(nextCursor, forKey: .nextCursor)
            try c.encode(rejectedSignatures, forKey: .rejectedSignatures)
            try c.encode(lastRejectedAt, forKey: .lastRejectedAt)
            try c.encode(lastRejectionReason, forKey: .lastRejectionReason)
        }
    }

    @Sendable
    func events(req: Request) async throws -> EventsPage {
        let raw = req.parameters.get("id") ?? ""
        let row: IntegrationConfig? = if let uuid = UUID(uuidString: raw) {
            try await IntegrationConfig.find(uuid, on: req.db)
        } else {
            try await IntegrationConfig.query(on: req.db).filter(\.$publicID == raw).first()
        }
        guard let row, let id = row.id else { throw APIError.notFound("Integration \(raw.capped(characters: 80))") }
        let page = try PageRequest(req)
        let (rows, next) = try await WebhookEvent.query(on: req.db).filter(\.$integrationID == id).page(page, newestFirst: true)
        let rejections = try await Self.rejections(id, on: req.db)
        return EventsPage(data: try rows.map(EventDTO.init), nextCursor: next,
                          rejectedSignatures: rejections.count, lastRejectedAt: rejections.lastAt,
                          lastRejectionReason: rejections.lastReason)
    }

    static func rejections(_ integration: UUID, on db: any Database) async throws -> (count: Int64, lastAt: Date?, lastReason: String?) {
        guard let sql = db as? any SQLDatabase,
              let row = try await sql.select().columns("count", "last_at", "last_reason").from("webhook_rejections")
                .where("integration_config_id", .equal, SQLBind(integration)).first()
        else { return (0, nil, nil) }
        return (try row.decode(column: "count", as: Int64.self), try row.decode(column: "last_at", as: Date?.self),
                try row.decode(column: "last_reason", as: String?.self))
    }

    struct InboundDTO: Content {
        let id: UUID
        let publicID: String
        let channel: String
        let integrationConfigID: UUID?
        let from: String
        let to: String?
        let text: String?
        let providerMessageID: String?
        let receivedAt: Date
        let patientID: UUID?
        let contactID: UUID?
        let optOutAction: String?

        enum CodingKeys: String, CodingKey {
            case id, channel, from, to, text
            case publicID = "public_id"
            case integrationConfigID = "integration_config_id"
            case providerMessageID = "provider_message_id"
            case receivedAt = "received_at"
            case patientID = "patient_id"
            case contactID = "contact_id"
            case optOutAction = "opt_out_action"
        }

        init(_ row: InboundMessage, masked: Bool) throws {
            id = try row.requireID()
            publicID = row.publicID
            channel = row.channel
            integrationConfigID = row.integrationID
            from = masked ? PhoneNumber.masked(row.from) : row.from
            to = row.to
            text = row.text
            providerMessageID = row.providerMessageID
            receivedAt = row.receivedAt
            patientID = row.patientID
            contactID = row.contactID
            optOutAction = row.optOutAction
        }
    }

    @Sendable
    func inbound(req: Request) async throws -> ListPage<InboundDTO> {
        let page = try PageRequest(req)
        let query = InboundMessage.query(on: req.db)
        if let channel = req.query[String.self, at: "channel"] {
            guard ["sms", "whatsapp"].contains(channel) else { throw APIError.validation(field: "channel", "must be sms or whatsapp") }
            query.filter(\.$channel == channel)
        }
        let (rows, next) = try await query.page(page, newestFirst: true)
        let masked = try req.currentUser.role == .viewer
        return ListPage(data: try rows.map { try InboundDTO($0, masked: masked) }, nextCursor: next)
    }
}
