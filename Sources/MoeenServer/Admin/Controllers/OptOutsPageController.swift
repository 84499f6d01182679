import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/settings/messages/opt-outs`, linked from the Messages tab: every role reads who asked not to be messaged
/// (viewers with addresses masked, as `GET /api/opt-outs` masks them); staff and up add an opt-out taken by
/// phone (its queued messages are cancelled, and the notice says how many) and remove one. Plain form posts
/// that redirect back (no script).
struct OptOutsPageController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequirePageRole(role: .viewer)).get(SiteURL.optOuts.pathComponents, use: index)
        let staff = routes.grouped(RequirePageRole(role: .staff))
        staff.formPost(SiteURL.optOuts.pathComponents, maxSize: "16kb", use: create)
        staff.formPost(SiteURL.pattern(.optOutRemove(publicID: "")), maxSize: "16kb", use: remove)
    }

    /// The channels an opt-out can name (Slack messages go to the centre's own channels, never to a recipient).
    static let channels: [MessageChannel] = [.whatsapp, .sms, .email]
    /// As `POST /api/opt-outs`.
    static let reasonLimit = 500

    // MARK: Reading

    @Sendable
    func index(req: Request) async throws -> Response {
        try await render(req, draft: nil)
    }

    /// A refused submission: what was entered and the problems by input (`channel`, `address`, `reason`).
    struct Draft {
        var channel: String
        var address: String
        var reason: String
        var errors: [String: String]
    }

    func render(_ req: Request, draft: Draft?, status: HTTPResponseStatus = .ok) async throws -> Response {
        let language = req.language
        let user = try req.currentUser
        let masked = user.role == .viewer
        let canEdit = user.role.isAtLeast(.staff)
        // `?limit=` and `?cursor=` as the API reads them (a bad one is the error page, 400 or 422); a refused
        // submission (posted to the list's own address, without them) shows the first page.
        let paging = try PageRequest(req)
        let limit = req.query[String.self, at: "limit"] != nil ? paging.limit : nil
        let cursor = req.query[String.self, at: "cursor"].flatMap { $0.isEmpty ? nil : $0 }
        let (rows, next) = try await RecipientOptOut.query(on: req.db).page(paging, newestFirst: true)
        let here = Self.listPath(limit: limit, cursor: cursor)

        let page = OptOutsPage(
            frame: PageFrame(req, title: Strings.text("opt_outs_heading", language), tab: .messages,
                             notice: Self.notice(req, language), languagePath: SiteURL.optOuts.path),
            messagesHref: SiteURL.settings(.messages).path,
            rows: try rows.map { row in
                let shown = try OptOutsController.OptOutDTO(row, masked: masked)
                return OptOutsPage.Row(
                    publicID: row.publicID, channel: row.channel,
                    channelLabel: Strings.table["channel_\(row.channel)"] == nil ? row.channel : Strings.text("channel_\(row.channel)", language),
                    address: shown.address, reason: shown.reason,
                    source: row.source,
                    sourceLabel: Strings.table["opt_out_source_\(row.source)"] == nil ? row.source : Strings.text("opt_out_source_\(row.source)", language),
                    created: row.createdAt.map { TimeDisplay($0, language) },
                    removeAction: canEdit ? SiteURL.optOutRemove(publicID: row.publicID).path : nil
                )
            },
            returnTo: here,
            nextHref: next.map { Self.listPath(limit: limit, cursor: $0) },
            firstHref: cursor == nil ? nil : Self.listPath(limit: limit, cursor: nil),
            paged: next != nil || cursor != nil,
            newOptOut: canEdit ? Self.newOptOut(draft, language) : nil,
            readOnly: !canEdit,
            masked: masked
        )
        return try await AdminView.render("admin-opt-outs", page, status: status, for: req)
    }

    static func newOptOut(_ draft: Draft?, _ language: Language) -> OptOutsPage.NewOptOut {
        let errors = draft?.errors ?? [:]
        let selected = draft?.channel ?? MessageChannel.whatsapp.rawValue
        let fields: [(key: String, label: String, target: String)] = [
            ("channel", "opt_out_channel", "opt-out-channel"), ("address", "opt_out_address", "opt-out-address"),
            ("reason", "opt_out_reason", "opt-out-reason"),
        ]
        return OptOutsPage.NewOptOut(
            action: SiteURL.optOuts.path,
            channelOptions: channels.map {
                UsersPage.Option(value: $0.rawValue, label: Strings.text("channel_\($0.rawValue)", language), selected: $0.rawValue == selected)
            },
            address: draft?.address ?? "",
            reason: draft?.reason ?? Strings.text("opt_out_reason_default", language),
            errors: errors,
            problems: fields.compactMap { field in
                errors[field.key].map { FormProblem(target: field.target, label: Strings.text(field.label, language), message: $0) }
            },
            reasonLimit: reasonLimit
        )
    }

    /// The notice a redirect asked for: "recorded, N queued messages cancelled" carries its count in the
    /// address (`?notice=opt_out_added&cancelled=N`); the others are the frame's own.
    static func notice(_ req: Request, _ language: Language) -> PageFrame.Notice? {
        guard req.query[String.self, at: "notice"] == "opt_out_added" else { return nil }
        let cancelled = req.query[Int.self, at: "cancelled"].map { min(max($0, 0), 1_000_000) } ?? 0
        let text = "\(Strings.text("opt_out_added", language)) \(Strings.text("opt_out_cancelled_count", language)) \(language.format(cancelled))"
        return PageFrame.Notice(kind: "success", text: text)
    }

    // MARK: Acting

    struct CreateInput: Decodable {
        let channel: String?
        let address: String?
        let reason: String?
    }

    /// Add: checked as `POST /api/opt-outs` checks it (the address normalised for its channel), recorded, and the
    /// recipient's queued messages on the channel cancelled.
    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try req.content.decode(CreateInput.self)
        let language = req.language
        let user = try req.currentUser
        let rawAddress = (input.address ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let rawReason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var errors: [String: String] = [:]
        let channel = input.channel.flatMap(MessageChannel.init(rawValue:)).flatMap { Self.channels.contains($0) ? $0 : nil }
        var address: String?
        if let channel {
            address = OptOuts.normalize(rawAddress, channel: channel)
            if address == nil {
                errors["address"] = Strings.text(channel == .email ? "error_opt_out_email" : "error_opt_out_phone", language)
            }
        } else {
            errors["channel"] = Strings.text("error_opt_out_channel", language)
        }
        if rawReason.count > Self.reasonLimit { errors["reason"] = Strings.text("error_opt_out_reason", language) }
        guard errors.isEmpty, let channel, let address else {
            let draft = Draft(channel: input.channel ?? "", address: rawAddress, reason: rawReason, errors: errors)
            return try await render(req, draft: draft, status: .unprocessableEntity)
        }
        let result = try await OptOuts.add(channel: channel, address: address, reason: rawReason.isEmpty ? nil : rawReason,
                                           source: .operator, by: user.id, on: req.db)
        req.logger.info("recipient opted out", metadata: [
            "opt_out": .string(result.row.publicID), "channel": .string(channel.rawValue),
            "cancelled_messages": .stringConvertible(result.cancelled), "created": "\(result.created)", "by": "\(user.id)",
        ])
        guard result.created else { return AdminView.redirect(req, to: SiteURL.optOuts.path, notice: "opt_out_exists") }
        return AdminView.redirect(req, to: SiteURL.optOuts.path + "?cancelled=\(result.cancelled)", notice: "opt_out_added")
    }

    /// Remove: the recipient may be messaged on the channel again.
    @Sendable
    func remove(req: Request) async throws -> Response {
        guard let id = req.parameters.get("public_id"), PublicID.matches(id, .optOut),
              let row = try await RecipientOptOut.query(on: req.db).filter(\.$publicID == id).first()
        else { throw APIError.notFound("The opt-out") }
        let user = try req.currentUser
        try await OptOuts.remove(row, by: user, ipAddress: req.clientAddress, on: req.db)
        req.logger.notice("opt-out removed", metadata: [
            "opt_out": .string(row.publicID), "channel": .string(row.channel), "by": "\(user.id)",
        ])
        return AdminView.redirect(req, to: Self.returnPath(req), notice: "opt_out_removed")
    }

    // MARK: Helpers

    /// The list's address at this cursor.
    static func listPath(limit: Int?, cursor: String?) -> String {
        var items: [(String, String)] = []
        if let limit { items.append(("limit", String(limit))) }
        if let cursor { items.append(("cursor", cursor)) }
        return SiteURL.path(SiteURL.optOuts.path, query: items)
    }

    /// Where Remove sends the browser back to: the form's `return_to` when it is this list (its `limit` and
    /// `cursor` kept, anything else dropped), else the list's first page.
    static func returnPath(_ req: Request) -> String {
        let list = SiteURL.optOuts.path
        guard let raw = try? req.content.get(String.self, at: "return_to"), let safe = SafeRedirect.localPath(raw),
              let components = URLComponents(string: safe), components.path == list
        else { return list }
        let limit = components.queryItems?.first { $0.name == "limit" }?.value.flatMap(Int.init).flatMap { (1...PageRequest.maxLimit).contains($0) ? $0 : nil }
        let cursor = components.queryItems?.first { $0.name == "cursor" }?.value.flatMap { $0.isEmpty ? nil : $0 }
        return listPath(limit: limit, cursor: cursor)
    }
}
