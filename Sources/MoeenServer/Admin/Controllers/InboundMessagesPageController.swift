import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/settings/messages/inbound`, linked from the Messages tab: every role reads the replies that arrived through
/// webhooks, newest first, a page at a time (viewers with senders masked, as `GET /api/inbound-messages` masks
/// them), each with the patient or CRM contact its number matched and whether it opted the sender out or back
/// in. Read-only for every role.
struct InboundMessagesPageController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequirePageRole(role: .viewer)).get(SiteURL.inboundMessages.pathComponents, use: index)
    }

    @Sendable
    func index(req: Request) async throws -> Response {
        let language = req.language
        let masked = try req.currentUser.role == .viewer
        // `?limit=` and `?cursor=` as the API reads them (a bad one is the error page, 400 or 422).
        let paging = try PageRequest(req)
        let limit = req.query[String.self, at: "limit"] != nil ? paging.limit : nil
        let cursor = req.query[String.self, at: "cursor"].flatMap { $0.isEmpty ? nil : $0 }
        let (rows, next) = try await InboundMessage.query(on: req.db).page(paging, newestFirst: true)
        let names = try await Self.names(of: rows, on: req.db)

        let page = InboundMessagesPage(
            frame: PageFrame(req, title: Strings.text("inbound_heading", language), tab: .messages),
            messagesHref: SiteURL.settings(.messages).path,
            intro: TextPart.split(Strings.text("inbound_intro", language), language),
            rows: try rows.map { row in
                let shown = try WebhookEventsController.InboundDTO(row, masked: masked)
                let patient = row.patientID.flatMap { names.patients[$0] }
                let contact = row.contactID.flatMap { names.contacts[$0] }
                let matched = switch (patient, contact) {
                case (.some, .some): "both"
                case (.some, nil): "patient"
                case (nil, .some): "contact"
                case (nil, nil): "none"
                }
                return InboundMessagesPage.Row(
                    publicID: row.publicID, received: TimeDisplay(row.receivedAt, language),
                    channel: row.channel,
                    channelLabel: Strings.table["channel_\(row.channel)"] == nil ? row.channel : Strings.text("channel_\(row.channel)", language),
                    from: shown.from, text: shown.text.flatMap { $0.isEmpty ? nil : $0 },
                    patient: patient, contact: contact, matched: matched,
                    action: .inboundAction(row.optOutAction, language)
                )
            },
            nextHref: next.map { Self.listPath(limit: limit, cursor: $0) },
            firstHref: cursor == nil ? nil : Self.listPath(limit: limit, cursor: nil),
            paged: next != nil || cursor != nil,
            masked: masked
        )
        return try await AdminView.render("admin-inbound", page, for: req)
    }

    /// The names of the patients and CRM contacts the rows matched, in two queries for the whole page.
    static func names(of rows: [InboundMessage], on db: any Database) async throws -> (patients: [UUID: String], contacts: [UUID: String]) {
        let patientIDs = Set(rows.compactMap(\.patientID))
        let contactIDs = Set(rows.compactMap(\.contactID))
        var patients: [UUID: String] = [:]
        var contacts: [UUID: String] = [:]
        if !patientIDs.isEmpty {
            for patient in try await Patient.query(on: db).filter(\.$id ~~ Array(patientIDs)).all() {
                if let id = patient.id { patients[id] = patient.fullName }
            }
        }
        if !contactIDs.isEmpty {
            for contact in try await CRMContact.query(on: db).filter(\.$id ~~ Array(contactIDs)).all() {
                if let id = contact.id {
                    contacts[id] = [contact.firstName, contact.lastName].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: " ")
                }
            }
        }
        return (patients, contacts)
    }

    /// The list's address at this cursor.
    static func listPath(limit: Int?, cursor: String?) -> String {
        var items: [(String, String)] = []
        if let limit { items.append(("limit", String(limit))) }
        if let cursor { items.append(("cursor", cursor)) }
        return SiteURL.path(SiteURL.inboundMessages.path, query: items)
    }
}
