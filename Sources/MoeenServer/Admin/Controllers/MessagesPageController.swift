import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/settings/messages` and `/settings/messages/{public_id}`: every role reads the outbox (viewers with
/// recipients masked, as the API masks them); managers and admins retry failed or dead messages and cancel
/// queued ones. The filters are a GET form and the actions plain form posts that redirect back (no script).
struct MessagesPageController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let readers = routes.grouped(RequirePageRole(role: .viewer))
        readers.get(SiteURL.settings(.messages).pathComponents, use: index)
        readers.get(SiteURL.pattern(.message(publicID: "")), use: show)
        let managers = routes.grouped(RequirePageRole(role: .manager))
        managers.formPost(SiteURL.pattern(.messageRetry(publicID: "")), maxSize: "16kb", use: retry)
        managers.formPost(SiteURL.pattern(.messageCancel(publicID: "")), maxSize: "16kb", use: cancel)
    }

    // MARK: Reading

    @Sendable
    func index(req: Request) async throws -> Response {
        let language = req.language
        let user = try req.currentUser
        let masked = user.role == .viewer
        // Values the selects don't offer (a hand-edited address) are ignored: the form then shows "All".
        let status = req.query[String.self, at: "status"].flatMap(MessageStatus.init(rawValue:))
        let channel = req.query[String.self, at: "channel"].flatMap(MessageChannel.init(rawValue:))
        // `?limit=` and `?cursor=` as the API reads them (a bad one is the error page, 400 or 422).
        let paging = try PageRequest(req)
        let limit = req.query[String.self, at: "limit"] != nil ? paging.limit : nil
        let cursor = req.query[String.self, at: "cursor"].flatMap { $0.isEmpty ? nil : $0 }

        let query = OutboundMessage.query(on: req.db)
        if let status { query.filter(\.$status == status.rawValue) }
        if let channel { query.filter(\.$channel == channel.rawValue) }
        let (rows, next) = try await query.page(paging, newestFirst: true)

        let here = Self.listPath(status: status, channel: channel, limit: limit, cursor: cursor)
        let page = MessagesPage(
            frame: PageFrame(req, title: Strings.text("tab_messages", language), tab: .messages),
            optOutsHref: SiteURL.optOuts.path,
            inboundHref: SiteURL.inboundMessages.path,
            filters: MessagesPage.Filters(
                action: SiteURL.settings(.messages).path,
                statusOptions: Self.options(MessageStatus.allCases.map(\.rawValue), selected: status?.rawValue, key: "msg_status", language),
                channelOptions: Self.options(MessageChannel.allCases.map(\.rawValue), selected: channel?.rawValue, key: "channel", language),
                active: status != nil || channel != nil,
                clearHref: SiteURL.settings(.messages).path
            ),
            rows: try rows.map { row in
                let shown = try MessageDTO(row, events: [], masked: masked)
                return MessagesPage.Row(
                    publicID: row.publicID, href: SiteURL.message(publicID: row.publicID).path,
                    status: row.status, badge: .messageStatus(row.status, language),
                    channel: row.channel, channelLabel: Strings.text("channel_\(row.channel)", language),
                    recipient: shown.to,
                    attempts: "\(language.format(row.attempts)) / \(language.format(row.maxAttempts))",
                    nextAttempt: Self.nextAttempt(row).map { TimeDisplay($0, language) },
                    lastError: shown.lastError,
                    created: row.createdAt.map { TimeDisplay($0, language) },
                    actions: Self.actions(row, for: user, returnTo: here)
                )
            },
            nextHref: next.map { Self.listPath(status: status, channel: channel, limit: limit, cursor: $0) },
            firstHref: cursor == nil ? nil : Self.listPath(status: status, channel: channel, limit: limit, cursor: nil),
            paged: next != nil || cursor != nil,
            readOnly: !user.role.isAtLeast(.manager),
            masked: masked
        )
        return try await AdminView.render("admin-messages", page, for: req)
    }

    @Sendable
    func show(req: Request) async throws -> Response {
        let language = req.language
        let user = try req.currentUser
        let row = try await Self.load(req)
        let shown = try await MessageDTO.one(row, masked: user.role == .viewer, on: req.db)
        let integration = try await IntegrationConfig.find(row.$integration.id, on: req.db)
        let here = SiteURL.message(publicID: row.publicID).path

        func fact(_ key: String, _ value: String?, ltr: Bool = false, testID: String? = nil) -> MessagePage.Fact? {
            value.map { MessagePage.Fact(label: Strings.text(key, language), value: $0, time: nil, href: nil, ltr: ltr, testID: testID) }
        }
        func time(_ key: String, _ date: Date?) -> MessagePage.Fact? {
            date.map { MessagePage.Fact(label: Strings.text(key, language), value: nil, time: TimeDisplay($0, language), href: nil, ltr: false, testID: nil) }
        }
        let integrationFact = integration.map { config in
            MessagePage.Fact(label: Strings.text("col_integration", language), value: config.name, time: nil,
                             href: SiteURL.integration(publicID: config.publicID).path, ltr: false, testID: nil)
        }
        let facts: [MessagePage.Fact] = [
            fact("col_channel", Strings.text("channel_\(row.channel)", language)),
            integrationFact,
            fact("col_recipient", shown.to, ltr: true, testID: "message-recipient"),
            fact("priority", Strings.text("priority_\(row.priority)", language)),
            fact("col_attempts", "\(language.format(row.attempts)) / \(language.format(row.maxAttempts))", ltr: true),
            time("col_next_attempt", Self.nextAttempt(row)),
            time("scheduled_at", row.scheduledAt),
            time("col_created", row.createdAt),
            time("sent_at", row.sentAt),
            time("delivered_at", row.deliveredAt),
            time("read_at", row.readAt),
            time("failed_at", row.failedAt),
            fact("provider_message_id", row.providerMessageID, ltr: true),
            fact("error_code", row.lastErrorCode, ltr: true),
        ].compactMap { $0 }

        let page = MessagePage(
            frame: PageFrame(req, title: "\(Strings.text("message_title", language)) \(row.publicID)", tab: .messages),
            listHref: SiteURL.settings(.messages).path,
            publicID: row.publicID, status: row.status, badge: .messageStatus(row.status, language),
            channelLabel: Strings.text("channel_\(row.channel)", language),
            facts: facts,
            lastError: shown.lastError,
            lastErrorIsCurrent: ![MessageStatus.sent, .delivered, .read].contains(row.messageStatus ?? .failed),
            subject: row.subject, text: row.text,
            templateName: row.template?["name"]?.stringValue,
            events: shown.events.map { event in
                MessagePage.Event(
                    at: TimeDisplay(event.at, language), status: event.status, badge: .messageStatus(event.status, language),
                    source: event.source, sourceLabel: Strings.text("source_\(event.source)", language), detail: event.detail
                )
            },
            actions: Self.actions(row, for: user, returnTo: here),
            readOnly: !user.role.isAtLeast(.manager),
            masked: user.role == .viewer
        )
        return try await AdminView.render("admin-message", page, for: req)
    }

    // MARK: Acting

    /// Retry: a failed or dead message is queued again (attempts reset) and the dispatcher woken.
    @Sendable
    func retry(req: Request) async throws -> Response {
        let row = try await Self.load(req)
        let user = try req.currentUser
        let back = Self.returnPath(req, publicID: row.publicID)
        guard try await MessageStore(db: req.db).requeue(try row.requireID(), now: Date(), by: user.email) else {
            return AdminView.redirect(req, to: back, notice: "message_retry_refused")
        }
        req.application.runningDispatcher?.notify()
        req.logger.notice("message queued again", metadata: ["message": .string(row.publicID), "by": "\(user.id)"])
        return AdminView.redirect(req, to: back, notice: "message_requeued")
    }

    /// Cancel: a queued message is cancelled and never sent.
    @Sendable
    func cancel(req: Request) async throws -> Response {
        let row = try await Self.load(req)
        let user = try req.currentUser
        let back = Self.returnPath(req, publicID: row.publicID)
        guard try await MessageStore(db: req.db).cancel(try row.requireID(), now: Date(), detail: "cancelled by \(user.email)") else {
            return AdminView.redirect(req, to: back, notice: "message_cancel_refused")
        }
        req.logger.notice("message cancelled", metadata: ["message": .string(row.publicID), "by": "\(user.id)"])
        return AdminView.redirect(req, to: back, notice: "message_cancelled")
    }

    // MARK: Helpers

    static func load(_ req: Request) async throws -> OutboundMessage {
        guard let id = req.parameters.get("public_id"), PublicID.matches(id, .message),
              let row = try await OutboundMessage.find(idOrPublicID: id, on: req.db)
        else { throw APIError.notFound("The message") }
        return row
    }

    /// When a queued message is next due; nothing for a message that is not waiting.
    static func nextAttempt(_ row: OutboundMessage) -> Date? {
        row.messageStatus == .queued ? row.nextAttemptAt : nil
    }

    static func actions(_ row: OutboundMessage, for user: AuthenticatedUser, returnTo: String) -> MessageActions {
        let allowed = user.role.isAtLeast(.manager)
        let status = row.messageStatus
        return MessageActions(
            retryAction: allowed && status.map(MessageStatus.retryable.contains) == true ? SiteURL.messageRetry(publicID: row.publicID).path : nil,
            cancelAction: allowed && status == .queued ? SiteURL.messageCancel(publicID: row.publicID).path : nil,
            returnTo: returnTo
        )
    }

    static func options(_ values: [String], selected: String?, key: String, _ language: Language) -> [UsersPage.Option] {
        [UsersPage.Option(value: "", label: Strings.text("filter_all", language), selected: selected == nil)]
            + values.map { UsersPage.Option(value: $0, label: Strings.text("\(key)_\($0)", language), selected: $0 == selected) }
    }

    /// The list's address with these filters and cursor.
    static func listPath(status: MessageStatus?, channel: MessageChannel?, limit: Int?, cursor: String?) -> String {
        var items: [(String, String)] = []
        if let status { items.append(("status", status.rawValue)) }
        if let channel { items.append(("channel", channel.rawValue)) }
        if let limit { items.append(("limit", String(limit))) }
        if let cursor { items.append(("cursor", cursor)) }
        return SiteURL.path(SiteURL.settings(.messages).path, query: items)
    }

    /// Where an action sends the browser back to: the form's `return_to` when it is the message list (any
    /// filters) or this message's page, else this message's page. A `notice` it carries is dropped.
    static func returnPath(_ req: Request, publicID: String) -> String {
        let detail = SiteURL.message(publicID: publicID).path
        guard let raw = try? req.content.get(String.self, at: "return_to"), let safe = SafeRedirect.localPath(raw) else { return detail }
        let parts = safe.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard path == SiteURL.settings(.messages).path || path == detail else { return detail }
        guard parts.count == 2 else { return path }
        let kept = parts[1].split(separator: "&").filter { !$0.hasPrefix("notice=") && !$0.hasPrefix("lang=") && !$0.contains("#") }
        return kept.isEmpty ? path : path + "?" + kept.joined(separator: "&")
    }
}
