import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// A row of `recipient_opt_outs`.
final class RecipientOptOut: Model, @unchecked Sendable {
    static let schema = "recipient_opt_outs"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "channel") var channel: String
    @Field(key: "address") var address: String
    @OptionalField(key: "reason") var reason: String?
    /// `operator` (API, admin page) or `webhook` (a STOP reply).
    @Field(key: "source") var source: String
    @OptionalField(key: "created_by") var createdBy: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// Opting out: the one place that normalises addresses, records opt-outs and cancels what is queued.
enum OptOuts {
    /// The address in its stored form for `channel`, or `nil` when it is not one.
    static func normalize(_ address: String, channel: MessageChannel) -> String? {
        switch channel {
        case .sms, .whatsapp: PhoneNumber.normalizeE164(address)
        case .email: EmailAddress.normalize(address)
        case .slack: nil
        }
    }

    /// Whether the recipient asked not to be messaged on the channel.
    static func isOptedOut(channel: String, address: String, on db: any Database) async throws -> Bool {
        try await RecipientOptOut.query(on: db).filter(\.$channel == channel).filter(\.$address == address).count() > 0
    }

    /// Records the opt-out (or returns the existing one) and cancels the recipient's queued messages on the
    /// channel. Returns the row, whether it is new, and how many messages were cancelled.
    static func add(
        channel: MessageChannel, address: String, reason: String?, source: MessageEventSource, by user: UUID?,
        on db: any Database, now: Date = Date()
    ) async throws -> (row: RecipientOptOut, created: Bool, cancelled: Int) {
        if let existing = try await RecipientOptOut.query(on: db).filter(\.$channel == channel.rawValue)
            .filter(\.$address == address).first() {
            return (existing, false, 0)
        }
        let row = RecipientOptOut()
        row.id = UUID()
        row.publicID = PublicID.make(.optOut, at: now, randomHexDigits: 12)
        row.channel = channel.rawValue
        row.address = address
        row.reason = reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0.capped(characters: 500) }
        row.source = source == .webhook ? "webhook" : "operator"
        row.createdBy = user
        do {
            try await row.create(on: db)
        } catch where UniqueViolation.matches(error) {
            if let existing = try await RecipientOptOut.query(on: db).filter(\.$channel == channel.rawValue)
                .filter(\.$address == address).first() {
                return (existing, false, 0)
            }
            throw error
        }
        let cancelled = try await cancelQueued(channel: channel.rawValue, address: address,
                                               reason: reason, source: source, on: db, now: now)
        return (row, true, cancelled)
    }

    /// Removes an opt-out (the recipient may be messaged on the channel again), with an audit row.
    static func remove(_ row: RecipientOptOut, by user: AuthenticatedUser, ipAddress: String?, on db: any Database) async throws {
        let before: JSONValue = [
            "public_id": .string(row.publicID), "channel": .string(row.channel),
            "reason": row.reason.map(JSONValue.string) ?? .null, "source": .string(row.source),
        ]
        let id = try row.requireID()
        try await db.transaction { tx in
            try await row.delete(on: tx)
            try await AuditLog(action: "DELETE", tableName: RecipientOptOut.schema, recordID: id.uuidString,
                               oldValues: before, newValues: nil, userID: user.id, ipAddress: ipAddress).create(on: tx)
        }
    }

    /// Queued messages to the recipient on the channel end `cancelled` with the opt-out as the reason.
    static func cancelQueued(
        channel: String, address: String, reason: String?, source: MessageEventSource, on db: any Database, now: Date
    ) async throws -> Int {
        let detail = "recipient opted out" + (reason.map { ": \($0.capped(characters: 200))" } ?? "")
        return try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return 0 }
            let ids = try await sql.update(OutboundMessage.schema)
                .set("status", to: SQLBind(MessageStatus.cancelled.rawValue))
                .set("next_attempt_at", to: SQLLiteral.null)
                .set("last_error", to: SQLBind(detail))
                .set("last_error_code", to: SQLBind("recipient_opted_out"))
                .set("updated_at", to: SQLBind(now))
                .where("channel", .equal, SQLBind(channel))
                .where("recipient", .equal, SQLBind(address))
                .where("status", .equal, SQLBind(MessageStatus.queued.rawValue))
                .returning("id")
                .all()
                .map { try $0.decode(column: "id", as: UUID.self) }
            try await MessageStore(db: tx).insertEvents(ids.map { ($0, .cancelled, detail) }, at: now, source: source)
            return ids.count
        }
    }
}

/// `GET/POST /api/opt-outs`, `DELETE /api/opt-outs/{id}` (API.md "Messages").
struct OptOutsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let optOuts = routes.grouped("opt-outs")
        optOuts.grouped(RequireRole(role: .viewer)).get(use: index)
        optOuts.grouped(RequireRole(role: .staff)).post(use: create)
        optOuts.grouped(RequireRole(role: .staff)).delete(":id", use: delete)
    }

    struct OptOutDTO: Content {
        let id: UUID
        let publicID: String
        let channel: String
        let address: String
        let reason: String?
        let source: String
        let createdAt: Date?
        /// Queued messages this opt-out cancelled (only when it was just made).
        let cancelledMessages: Int?

        enum CodingKeys: String, CodingKey {
            case id, channel, address, reason, source
            case publicID = "public_id"
            case createdAt = "created_at"
            case cancelledMessages = "cancelled_messages"
        }

        init(_ row: RecipientOptOut, masked: Bool, cancelled: Int? = nil) throws {
            id = try row.requireID()
            publicID = row.publicID
            channel = row.channel
            address = masked ? (row.address.contains("@") ? EmailAddress.masked(row.address) : PhoneNumber.masked(row.address)) : row.address
            reason = row.reason
            source = row.source
            createdAt = row.createdAt
            cancelledMessages = cancelled
        }
    }

    struct CreateInput: Content {
        let channel: String
        let address: String
        let reason: String?
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<OptOutDTO> {
        let page = try PageRequest(req)
        let query = RecipientOptOut.query(on: req.db)
        if let channel = req.query[String.self, at: "channel"] {
            guard ["whatsapp", "sms", "email"].contains(channel) else {
                throw APIError.validation(field: "channel", "must be one of whatsapp, sms, email")
            }
            query.filter(\.$channel == channel)
        }
        let (rows, next) = try await query.page(page, newestFirst: true)
        let masked = try req.currentUser.role == .viewer
        return ListPage(data: try rows.map { try OptOutDTO($0, masked: masked) }, nextCursor: next)
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try req.content.decode(CreateInput.self)
        var problems: [String: String] = [:]
        let channel = MessageChannel(rawValue: input.channel)
        if channel == nil || channel == .slack { problems["channel"] = "must be one of whatsapp, sms, email" }
        var address: String?
        if let channel, channel != .slack {
            address = OptOuts.normalize(input.address, channel: channel)
            if address == nil {
                problems["address"] = channel == .email ? "must be an e-mail address" : "must be a phone number like +966551234567 or 0551234567"
            }
        }
        if let reason = input.reason, reason.count > 500 { problems["reason"] = "must be at most 500 characters" }
        guard problems.isEmpty, let channel, let address else { throw APIError.validation(problems) }
        let result = try await OptOuts.add(channel: channel, address: address, reason: input.reason, source: .operator,
                                           by: try req.currentUser.id, on: req.db)
        req.logger.info("recipient opted out", metadata: [
            "opt_out": .string(result.row.publicID), "channel": .string(channel.rawValue),
            "cancelled_messages": .stringConvertible(result.cancelled),
        ])
        let dto = try OptOutDTO(result.row, masked: false, cancelled: result.created ? result.cancelled : nil)
        return try await dto.encodeResponse(status: result.created ? .created : .ok, for: req)
    }

    @Sendable
    func delete(req: Request) async throws -> HTTPStatus {
        let raw = req.parameters.get("id") ?? ""
        let row: RecipientOptOut? = if let uuid = UUID(uuidString: raw) {
            try await RecipientOptOut.find(uuid, on: req.db)
        } else if PublicID.matches(raw, .optOut) {
            try await RecipientOptOut.query(on: req.db).filter(\.$publicID == raw).first()
        } else {
            nil
        }
        guard let row else { throw APIError.notFound("Opt-out \(raw.capped(characters: 80))") }
        try await OptOuts.remove(row, by: try req.currentUser, ipAddress: req.clientAddress, on: req.db)
        return .noContent
    }
}
