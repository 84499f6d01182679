import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// `GET /api/patients/{id}/messages`: the messages sent to a patient and the replies received from them, in one
/// list, newest first by (created_at, id), each item with `direction` (`outbound`: a Message; `inbound`: an
/// inbound reply as `/api/inbound-messages` shows it). Viewers see addresses masked.
struct PatientMessagesController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequireRole(role: .viewer)).get("patients", ":id", "messages", use: index)
    }

    /// One item of the list.
    enum Item: Content {
        case outbound(MessageDTO)
        case inbound(WebhookEventsController.InboundDTO)

        enum Keys: String, CodingKey { case direction }

        init(from decoder: any Decoder) throws {
            let direction = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .direction)
            self = direction == "inbound" ? .inbound(try .init(from: decoder)) : .outbound(try .init(from: decoder))
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            switch self {
            case .outbound(let message):
                try container.encode("outbound", forKey: .direction)
                try message.encode(to: encoder)
            case .inbound(let reply):
                try container.encode("inbound", forKey: .direction)
                try reply.encode(to: encoder)
            }
        }
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<Item> {
        let page = try PageRequest(req)
        let raw = req.parameters.get("id") ?? ""
        guard let sql = req.db as? any SQLDatabase,
              let patientID = try await RecordStore.resolveID(raw, in: RecordCollections.patients, on: sql)
        else { throw APIError.notFound("Patient \(raw.capped(characters: 80))") }
        let both: SQLQueryString = """
            SELECT id, created_at, 'outbound' AS direction FROM \(ident: OutboundMessage.schema) WHERE patient_id = \(bind: patientID)
            UNION ALL
            SELECT id, created_at, 'inbound' AS direction FROM \(ident: InboundMessage.schema) WHERE patient_id = \(bind: patientID)
            """
        var query: SQLQueryString = "SELECT id, direction FROM (" + both + ") AS m"
        if let after = page.after {
            let named: SQLQueryString = "SELECT id FROM (" + both + ") AS n WHERE n.id = \(bind: after)"
            guard try await sql.raw(named).first() != nil else { throw PageRequest.invalidCursor }
            query += " WHERE (m.created_at, m.id) < (SELECT c.created_at, c.id FROM (" + both + ") AS c WHERE c.id = \(bind: after))"
        }
        query += " ORDER BY m.created_at DESC, m.id DESC LIMIT \(unsafeRaw: String(page.limit + 1))"
        let rows = try await sql.raw(query).all()
        let listed = try rows.prefix(page.limit).map {
            (id: try $0.decode(column: "id", as: UUID.self), inbound: try $0.decode(column: "direction", as: String.self) == "inbound")
        }
        let outboundIDs = listed.filter { !$0.inbound }.map(\.id)
        let inboundIDs = listed.filter(\.inbound).map(\.id)
        let masked = try req.currentUser.role == .viewer
        let outbound = outboundIDs.isEmpty ? [] : try await MessageDTO.many(
            try await OutboundMessage.query(on: req.db).filter(\.$id ~~ outboundIDs).all(), masked: masked, on: req.db)
        let inbound = inboundIDs.isEmpty ? [] : try await InboundMessage.query(on: req.db).filter(\.$id ~~ inboundIDs).all()
            .map { try WebhookEventsController.InboundDTO($0, masked: masked) }
        let outboundByID = Dictionary(uniqueKeysWithValues: outbound.map { ($0.id, $0) })
        let inboundByID = Dictionary(uniqueKeysWithValues: inbound.map { ($0.id, $0) })
        let items = listed.compactMap { entry -> Item? in
            entry.inbound ? inboundByID[entry.id].map(Item.inbound) : outboundByID[entry.id].map(Item.outbound)
        }
        let next = rows.count > page.limit ? listed.last.map { PageRequest.encode($0.id) } : nil
        return ListPage(data: items, nextCursor: next)
    }
}
