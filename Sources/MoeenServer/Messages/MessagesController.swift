import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/api/messages` (API.md "Messages"): accept into the outbox, list, show with events, retry, cancel.
struct MessagesController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let messages = routes.grouped("messages")
        messages.grouped(RequireRole(role: .viewer)).get(use: index)
        messages.grouped(RequireRole(role: .viewer)).get(":id", use: show)
        messages.grouped(RequireRole(role: .staff)).post(use: create)
        messages.grouped(RequireRole(role: .manager)).post(":id", "retry", use: retry)
        messages.grouped(RequireRole(role: .manager)).post(":id", "cancel", use: cancel)
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let user = try req.currentUser
        let input = try req.content.decode(MessageRequest.self)
        let key = req.headers.first(name: "Idempotency-Key")
        let preferences = await req.application.centrePreferences.current(on: req.db)
        let intake = MessageIntake(db: req.db, settings: req.application.moeenConfiguration.delivery, now: Date(),
                                   quietHours: preferences.activeQuietHours)
        let outcome = try await intake.accept(
            input, idempotencyKey: key, requestHash: MessageIntake.requestHash(of: req.body.data),
            createdBy: user.id, source: .api)
        if !outcome.replayed {
            req.application.runningDispatcher?.notify()
            req.logger.info("message accepted", metadata: [
                "message": .string(outcome.message.publicID), "channel": .string(outcome.message.channel),
            ])
        }
        let dto = if let event = outcome.event {
            try MessageDTO(outcome.message, events: [event], masked: user.role == .viewer)
        } else {
            try await MessageDTO.one(outcome.message, masked: user.role == .viewer, on: req.db)
        }
        let response = try await dto.encodeResponse(status: .accepted, for: req)
        if outcome.replayed { response.headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true") }
        return response
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<MessageDTO> {
        let page = try PageRequest(req)
        let query = OutboundMessage.query(on: req.db)
        var problems: [String: String] = [:]
        if let status = req.query[String.self, at: "status"] {
            if MessageStatus(rawValue: status) == nil {
                problems["status"] = "must be one of \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", "))"
            } else {
                query.filter(\.$status == status)
            }
        }
        if let channel = req.query[String.self, at: "channel"] {
            if MessageChannel(rawValue: channel) == nil {
                problems["channel"] = "must be one of \(MessageChannel.allCases.map(\.rawValue).joined(separator: ", "))"
            } else {
                query.filter(\.$channel == channel)
            }
        }
        if let since = req.query[String.self, at: "since"] {
            if let date = RFC3339.parse(since) { query.filter(\.$createdAt >= date) } else {
                problems["since"] = "must be an RFC 3339 time like 2026-12-01T09:00:00Z"
            }
        }
        if let raw = req.query[String.self, at: "patient_id"] {
            if let uuid = UUID(uuidString: raw) {
                query.filter(\.$patientID == uuid)
            } else if let patient = PublicID.matches(raw, .patient) && !JSONValue.string(raw).containsNULCharacter ? try await Patient.query(on: req.db).filter(\.$publicID == raw).first() : nil {
                query.filter(\.$patientID == patient.id)
            } else {
                problems["patient_id"] = "no patient has this id"
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let (rows, next) = try await query.page(page, newestFirst: true)
        let masked = try req.currentUser.role == .viewer
        return ListPage(data: try await MessageDTO.many(rows, masked: masked, on: req.db), nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> MessageDTO {
        let row = try await Self.find(req)
        var dto = try await MessageDTO.one(row, masked: try req.currentUser.role == .viewer, on: req.db)
        dto.chain = try await MessageDTO.chain(of: row, on: req.db)
        return dto
    }

    @Sendable
    func retry(req: Request) async throws -> MessageDTO {
        let row = try await Self.find(req)
        let user = try req.currentUser
        guard try await MessageStore(db: req.db).requeue(try row.requireID(), now: Date(), by: user.email) else {
            throw Self.wrongState(row, action: "retried", allowed: "failed or dead")
        }
        req.application.runningDispatcher?.notify()
        return try await MessageDTO.one(try await Self.reload(row, on: req.db), masked: false, on: req.db)
    }

    @Sendable
    func cancel(req: Request) async throws -> MessageDTO {
        let row = try await Self.find(req)
        let user = try req.currentUser
        guard try await MessageStore(db: req.db).cancel(try row.requireID(), now: Date(), detail: "cancelled by \(user.email)") else {
            throw Self.wrongState(row, action: "cancelled", allowed: "queued")
        }
        return try await MessageDTO.one(try await Self.reload(row, on: req.db), masked: false, on: req.db)
    }

    static func find(_ req: Request) async throws -> OutboundMessage {
        let raw = req.parameters.get("id") ?? ""
        guard let row = try await OutboundMessage.find(idOrPublicID: raw, on: req.db) else {
            throw APIError.notFound("Message \(raw.capped(characters: 80))")
        }
        return row
    }

    static func reload(_ row: OutboundMessage, on db: any Database) async throws -> OutboundMessage {
        guard let fresh = try await OutboundMessage.find(row.id, on: db) else { throw APIError.notFound("Message \(row.publicID)") }
        return fresh
    }

    static func wrongState(_ row: OutboundMessage, action: String, allowed: String) -> APIError {
        APIError(.conflict, code: "invalid_state",
                 message: "Message \(row.publicID) is \(row.status); only \(allowed) messages can be \(action).")
    }
}
