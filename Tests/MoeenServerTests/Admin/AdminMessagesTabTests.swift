import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// Outbox rows for the Messages tab's tests: each message is accepted through `POST /api/messages` (so it is
/// a real row, whatever columns the outbox grows), then moved to the state the test wants as the dispatcher
/// would have left it, with the events it would have had; fixed public ids and times when a test wants them
/// (snapshots).
enum MessagesTabFixtures {
    static let phone = "+966551234567"

    @discardableResult
    static func insert(
        _ app: Application, status: MessageStatus, channel: MessageChannel = .sms, to: String = phone,
        createdAt: Date, publicID: String? = nil, attempts: Int = 0, lastError: String? = nil,
        text: String = "Your appointment is tomorrow at 10:00", events: [(MessageStatus, MessageEventSource, String?)]? = nil
    ) async throws -> OutboundMessage {
        // The seeded integration of the channel carries it (enabled here without settings: nothing is sent).
        let integration = try #require(try await IntegrationConfig.query(on: app.db)
            .filter(\.$integrationType == channel.integrationType.rawValue).sort(\.$createdAt).first())
        if !integration.isEnabled {
            integration.isEnabled = true
            try await integration.save(on: app.db)
        }
        let accepted = try await app.call(.POST, "api/messages", auth: try await app.bearer(role: .staff), body: [
            "channel": .string(channel.rawValue), "to": .string(to), "text": .string(text),
            "integration_config_id": .string(integration.publicID),
        ])
        #expect(accepted.status == .accepted, "\(accepted.text)")
        let row = try #require(try await OutboundMessage.query(on: app.db)
            .filter(\.$publicID == (accepted.json["public_id"] as? String ?? "")).first())
        let id = try row.requireID()
        if let publicID { row.publicID = publicID }
        row.status = status.rawValue
        row.attempts = attempts
        row.nextAttemptAt = status == .queued ? createdAt : nil
        row.lastError = lastError
        row.failedAt = [.failed, .dead].contains(status) ? createdAt.addingTimeInterval(2) : nil
        row.sentAt = [.sent, .delivered, .read].contains(status) ? createdAt.addingTimeInterval(1) : nil
        row.createdAt = createdAt
        try await row.save(on: app.db)
        // The intake wrote the `queued` event; it and the rest of the history happen at `createdAt` onwards.
        try await MessageEvent.query(on: app.db).filter(\.$messageID == id).set(\.$at, to: createdAt).update()
        let history = events ?? defaultEvents(status, lastError: lastError)
        for (offset, event) in history.enumerated() {
            try await MessageEvent(messageID: id, at: createdAt.addingTimeInterval(Double(offset + 1)), status: event.0,
                                   source: event.1, detail: event.2).create(on: app.db)
        }
        return row
    }

    /// The events after the intake's `queued` one.
    static func defaultEvents(_ status: MessageStatus, lastError: String?) -> [(MessageStatus, MessageEventSource, String?)] {
        switch status {
        case .queued: []
        case .failed, .dead: [(.sending, .dispatcher, "attempt 1 of 10"), (status, .dispatcher, lastError)]
        case .cancelled: [(.cancelled, .operator, "cancelled by someone@example.org")]
        default: [(.sending, .dispatcher, "attempt 1 of 10"), (status, .dispatcher, nil)]
        }
    }

    /// How many rows the page lists, and their statuses in order.
    static func rows(_ html: String) -> [String] {
        html.components(separatedBy: "data-testid=\"message-row\" data-status=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    static func status(_ app: Application, _ row: OutboundMessage) async throws -> String? {
        try await OutboundMessage.find(row.id, on: app.db)?.status
    }
}

@Suite("Admin pages: the Messages tab")
struct AdminMessagesTabTests {
    typealias Fixtures = MessagesTabFixtures

    static let twilioError = "bad_request: Invalid 'To' Phone Number: \(MessagesTabFixtures.phone), HTTP 400"

    /// A queued, a failed (whose error repeats the number) and a sent message, oldest first.
    static func seed(_ app: Application) async throws -> (queued: OutboundMessage, failed: OutboundMessage, sent: OutboundMessage) {
        let base = Date().addingTimeInterval(-3600)
        let sent = try await Fixtures.insert(app, status: .sent, createdAt: base)
        let failed = try await Fixtures.insert(app, status: .failed, createdAt: base.addingTimeInterval(60), attempts: 1, lastError: twilioError)
        let queued = try await Fixtures.insert(app, status: .queued, channel: .email, to: "parent@example.org", createdAt: base.addingTimeInterval(120))
        return (queued, failed, sent)
    }

    @Test("every role reads the list, newest first; viewers see recipients masked (in errors too) and no buttons; managers and admins get Retry and Cancel where the state allows")
    func listForEachRole() async throws {
        try await withMoeenApp { app in
            let (queued, failed, sent) = try await Self.seed(app)
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let res = try await app.page("/settings/messages", headers: browser.headers)
                #expect(res.status == .ok, "\(role)")
                let html = res.html
                #expect(Fixtures.rows(html) == ["queued", "failed", "sent"], "\(role)")
                #expect(html.contains("data-testid=\"tab-messages\" aria-current=\"page\""), "\(role)")
                for row in [queued, failed, sent] {
                    #expect(html.contains("href=\"/settings/messages/\(row.publicID)\""), "\(role)")
                }
                #expect(html.contains("<bdi dir=\"ltr\">1 / 10</bdi>"))
                let actions = role.isAtLeast(.manager)
                #expect(html.contains("action=\"/settings/messages/\(failed.publicID)/retry\"") == actions, "\(role)")
                #expect(html.contains("action=\"/settings/messages/\(queued.publicID)/cancel\"") == actions, "\(role)")
                #expect(!html.contains("/settings/messages/\(sent.publicID)/retry"), "\(role)")
                #expect(!html.contains("/settings/messages/\(sent.publicID)/cancel"), "\(role)")
                #expect(!html.contains("/settings/messages/\(queued.publicID)/retry"), "\(role)")
                #expect(!html.contains("/settings/messages/\(failed.publicID)/cancel"), "\(role)")
                #expect(html.contains(Strings.text("read_only_note", .ar)) == !actions, "\(role)")
                if role == .viewer {
                    #expect(!html.contains(Fixtures.phone))
                    #expect(!html.contains("parent@example.org"))
                    #expect(html.contains(MessageDTO.maskedRecipient(failed)))
                    #expect(html.contains(MessageDTO.maskedRecipient(queued)))
                    #expect(html.contains("Invalid &#39;To&#39; Phone Number: \(MessageDTO.maskedRecipient(failed))")
                        || html.contains("Invalid 'To' Phone Number: \(MessageDTO.maskedRecipient(failed))"))
                    #expect(html.contains(Strings.text("masked_note", .ar)))
                } else {
                    #expect(html.contains(">\(Fixtures.phone)</bdi>"), "\(role)")
                    #expect(html.contains(">parent@example.org</bdi>"), "\(role)")
                    #expect(!html.contains(Strings.text("masked_note", .ar)), "\(role)")
                }
            }
        }
    }

    @Test("status and channel filters (a GET form with labelled selects) narrow the list; unknown values are ignored")
    func filters() async throws {
        try await withMoeenApp { app in
            _ = try await Self.seed(app)
            let admin = try await app.browserSession(role: .admin)
            let form = try await app.page("/settings/messages", headers: admin.headers).html
            #expect(form.contains("<form method=\"get\" action=\"/settings/messages\""))
            #expect(form.contains("<label for=\"filter-status\">") && form.contains("<select id=\"filter-status\" name=\"status\">"))
            #expect(form.contains("<label for=\"filter-channel\">") && form.contains("<select id=\"filter-channel\" name=\"channel\">"))

            let failed = try await app.page("/settings/messages?status=failed&channel=", headers: admin.headers)
            #expect(Fixtures.rows(failed.html) == ["failed"])
            #expect(failed.html.contains("<option value=\"failed\" selected>"))
            #expect(failed.html.contains("data-testid=\"clear-filters\""))
            #expect(Fixtures.rows(try await app.page("/settings/messages?channel=email", headers: admin.headers).html) == ["queued"])
            #expect(Fixtures.rows(try await app.page("/settings/messages?status=sent&channel=sms", headers: admin.headers).html) == ["sent"])

            let none = try await app.page("/settings/messages?status=delivered&lang=en", headers: admin.headers)
            #expect(none.status == .ok)
            #expect(Fixtures.rows(none.html).isEmpty)
            #expect(none.html.contains("No message matches these filters."))

            let unknown = try await app.page("/settings/messages?status=bogus&channel=fax", headers: admin.headers)
            #expect(unknown.status == .ok)
            #expect(Fixtures.rows(unknown.html).count == 3)
        }
    }

    @Test("with no messages the tab says so, in Arabic and in English")
    func emptyState() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.browserSession(role: .viewer)
            let arabic = try await app.page("/settings/messages", headers: viewer.headers)
            #expect(arabic.status == .ok)
            #expect(arabic.html.contains("<html lang=\"ar\" dir=\"rtl\">"))
            #expect(arabic.html.contains("data-testid=\"messages-empty\">\(Strings.text("messages_empty", .ar))<"))
            #expect(!arabic.html.contains("data-testid=\"messages-table\""))
            let english = try await app.page("/settings/messages?lang=en", headers: viewer.headers)
            #expect(english.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.html.contains("No messages yet."))
            #expect(english.html.contains(">Messages</a>"))
        }
    }

    @Test("pages follow the API's keyset cursor: the next link carries it (percent-encoded) with the filters, and the last page has none")
    func paging() async throws {
        try await withMoeenApp { app in
            let base = Date().addingTimeInterval(-600)
            for index in 0..<5 {
                try await Fixtures.insert(app, status: index == 2 ? .queued : .sent, createdAt: base.addingTimeInterval(Double(index)))
            }
            let admin = try await app.browserSession(role: .admin)
            let first = try await app.page("/settings/messages?status=sent&limit=2", headers: admin.headers)
            #expect(Fixtures.rows(first.html) == ["sent", "sent"])
            let api = try await app.call(.GET, "api/messages?status=sent&limit=2", auth: try await app.bearer(role: .viewer))
            let cursor = try #require(api.json["next_cursor"] as? String)
            let encoded = try #require(cursor.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")))
            let next = "/settings/messages?status=sent&amp;limit=2&amp;cursor=\(encoded)"
            #expect(first.html.contains("href=\"\(next)\" rel=\"next\" data-testid=\"next-page\""), "\(first.html)")
            #expect(!first.html.contains("data-testid=\"first-page\""))

            let second = try await app.page(next.replacingOccurrences(of: "&amp;", with: "&"), headers: admin.headers)
            #expect(second.status == .ok)
            #expect(Fixtures.rows(second.html) == ["sent", "sent"])
            #expect(second.html.contains("href=\"/settings/messages?status=sent&amp;limit=2\" data-testid=\"first-page\""))
            let apiPage = try await app.call(.GET, "api/messages?status=sent&limit=2&cursor=\(encoded)", auth: try await app.bearer(role: .viewer))
            let ids = (apiPage.json["data"] as? [[String: Any]] ?? []).compactMap { $0["public_id"] as? String }
            for id in ids { #expect(second.html.contains("data-public-id=\"\(id)\"")) }
            #expect(!second.html.contains("data-testid=\"next-page\""))

            let forged = try await app.page("/settings/messages?cursor=bm90LWEtY3Vyc29y", headers: admin.headers)
            #expect(forged.status == .badRequest)
            #expect(forged.html.contains("data-testid=\"error-page\""))
        }
    }

    @Test("the detail page shows the message and its events in order; viewers see the recipient masked there too; unknown ids are 404")
    func detailPage() async throws {
        try await withMoeenApp { app in
            let (_, failed, _) = try await Self.seed(app)
            let manager = try await app.browserSession(role: .manager)
            let page = try await app.page("/settings/messages/\(failed.publicID)?lang=en", headers: manager.headers)
            #expect(page.status == .ok)
            let html = page.html
            #expect(html.contains("data-testid=\"message-page\" data-status=\"failed\""))
            let events = html.components(separatedBy: "data-testid=\"message-event-row\" data-status=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(events == ["queued", "sending", "failed"])
            #expect(html.contains("data-source=\"dispatcher\""))
            #expect(html.contains("attempt 1 of 10"))
            #expect(html.contains("data-testid=\"message-recipient\"><bdi dir=\"ltr\">\(Fixtures.phone)</bdi>"))
            #expect(html.contains("Your appointment is tomorrow at 10:00"))
            #expect(html.contains("data-testid=\"retry-message\""))
            #expect(!html.contains("data-testid=\"cancel-message\""))
            #expect(html.contains("href=\"/settings/messages/\(failed.publicID)?lang=ar\""))

            let viewer = try await app.browserSession(role: .viewer)
            let masked = try await app.page("/settings/messages/\(failed.publicID)", headers: viewer.headers)
            #expect(masked.status == .ok)
            #expect(!masked.html.contains(Fixtures.phone))
            #expect(masked.html.contains(MessageDTO.maskedRecipient(failed)))
            #expect(!masked.html.contains("data-testid=\"retry-message\""))

            // An error from before a later, successful send reads as an earlier one, not as the message's state.
            let resent = try await Fixtures.insert(app, status: .sent, createdAt: Date(), attempts: 2, lastError: "server_error: try again, HTTP 503")
            let resentPage = try await app.page("/settings/messages/\(resent.publicID)", headers: viewer.headers).html
            #expect(resentPage.contains("data-testid=\"message-earlier-error\""))
            #expect(!resentPage.contains("data-testid=\"message-last-error\""))
            #expect(masked.html.contains("data-testid=\"message-last-error\""))

            for path in ["/settings/messages/msg_20260101_00000000000000ff", "/settings/messages/int_20260101_00000000", "/settings/messages/\(UUID().uuidString)"] {
                let missing = try await app.page(path, headers: viewer.headers)
                #expect(missing.status == .notFound, "\(path)")
            }
        }
    }

    @Test("Retry and Cancel post with the CSRF token and redirect back with a notice; a message in the wrong state gets an error notice, not a 500")
    func retryAndCancel() async throws {
        try await withMoeenApp { app in
            let (queued, failed, sent) = try await Self.seed(app)
            let manager = try await app.browserSession(role: .manager)
            let list = "/settings/messages?status=failed"

            let (headers, body) = manager.form(["return_to": list])
            let retried = try await app.postForm("/settings/messages/\(failed.publicID)/retry", body, headers: headers)
            #expect(retried.status == .seeOther)
            #expect(retried.location == "\(list)&notice=message_requeued")
            let row = try #require(try await OutboundMessage.find(failed.id, on: app.db))
            #expect(row.status == "queued")
            #expect(row.attempts == 0)
            let failedID = try failed.requireID()
            let lastEvent = try #require(try await MessageEvent.query(on: app.db).filter(\.$messageID == failedID).sort(\.$at, .descending).first())
            #expect(lastEvent.status == "queued" && lastEvent.source == "operator")
            #expect(lastEvent.detail?.contains(manager.email) == true)
            let shown = try await app.page(try #require(retried.location), headers: manager.headers)
            #expect(shown.html.contains("notice-success"))
            #expect(shown.html.contains(Strings.text("message_requeued", .ar)))

            // From the detail page (no return_to: back to the message).
            let (_, plain) = manager.form([:])
            let cancelled = try await app.postForm("/settings/messages/\(queued.publicID)/cancel", plain, headers: headers)
            #expect(cancelled.location == "/settings/messages/\(queued.publicID)?notice=message_cancelled")
            #expect(try await Fixtures.status(app, queued) == "cancelled")
            let detail = try await app.page(try #require(cancelled.location), headers: manager.headers)
            #expect(detail.html.contains("data-testid=\"message-page\" data-status=\"cancelled\""))
            #expect(detail.html.contains("data-source=\"operator\""))

            // Wrong states: a clear error notice on the page the action came from, nothing changed.
            let again = try await app.postForm("/settings/messages/\(queued.publicID)/cancel", plain, headers: headers)
            #expect(again.location == "/settings/messages/\(queued.publicID)?notice=message_cancel_refused")
            let refused = try await app.page(try #require(again.location) + "&lang=en", headers: manager.headers)
            #expect(refused.status == .ok)
            #expect(refused.html.contains("notice-error"))
            #expect(refused.html.contains("only queued messages can be cancelled"))
            let (_, fromList) = manager.form(["return_to": "/settings/messages"])
            let notRetryable = try await app.postForm("/settings/messages/\(sent.publicID)/retry", fromList, headers: headers)
            #expect(notRetryable.location == "/settings/messages?notice=message_retry_refused")
            #expect(try await Fixtures.status(app, sent) == "sent")
            let notice = try await app.page(try #require(notRetryable.location), headers: manager.headers)
            #expect(notice.html.contains(Strings.text("message_retry_refused", .ar)))

            // return_to only leads back to the list or this message.
            for foreign in ["https://evil.example/x", "//evil.example", "/settings/users", "/settings/messages/\(sent.publicID)"] {
                let (_, odd) = manager.form(["return_to": foreign])
                let res = try await app.postForm("/settings/messages/\(queued.publicID)/cancel", odd, headers: headers)
                #expect(res.location == "/settings/messages/\(queued.publicID)?notice=message_cancel_refused", "\(foreign)")
            }
        }
    }

    @Test("Retry and Cancel need a manager and the CSRF token; viewers, staff and signed-out posts change nothing")
    func actionsNeedRoleAndCSRF() async throws {
        try await withMoeenApp { app in
            let (queued, failed, _) = try await Self.seed(app)
            for role in [UserRole.viewer, .staff] {
                let browser = try await app.browserSession(role: role)
                let (headers, body) = browser.form([:])
                for path in ["/settings/messages/\(failed.publicID)/retry", "/settings/messages/\(queued.publicID)/cancel"] {
                    let res = try await app.postForm(path, body, headers: headers)
                    #expect(res.status == .forbidden, "\(role) \(path)")
                    #expect(res.html.contains("data-testid=\"error-page\""))
                }
            }
            let manager = try await app.browserSession(role: .manager)
            let (headers, body) = manager.form([:], csrf: false)
            let noToken = try await app.postForm("/settings/messages/\(failed.publicID)/retry", body, headers: headers)
            #expect(noToken.status == .forbidden)
            #expect(noToken.html.contains(Strings.text("csrf_title", .ar)))
            let other = try await app.browserSession(role: .manager)
            let wrongToken = try await app.postForm("/settings/messages/\(queued.publicID)/cancel", ["csrf_token": other.csrf], headers: headers)
            #expect(wrongToken.status == .forbidden)
            let signedOut = try await app.postForm("/settings/messages/\(queued.publicID)/cancel", [:])
            #expect(signedOut.status == .seeOther)
            #expect(signedOut.location == "/login")
            #expect(try await Fixtures.status(app, failed) == "failed")
            #expect(try await Fixtures.status(app, queued) == "queued")
        }
    }

    @Test("a message sent through POST /api/messages to the SMS stand-in shows on the tab with the dispatcher's events; Retry queues a failed one again")
    func throughTheAPI() async throws {
        try await withStandIn(.sms) { _, settings in
            try await withMoeenApp { app in
                let admin = try await app.bearer(role: .admin)
                let good = try await TestConnectionTests.create(app, auth: admin, type: .sms, settings: settings)
                var wrong = settings
                wrong["auth_token"] = "not-the-auth-token"
                let bad = try await TestConnectionTests.create(app, auth: admin, type: .sms, settings: wrong)
                let sent = try await app.call(.POST, "api/messages", auth: admin, body: [
                    "channel": "sms", "to": "0551234567", "text": "Session reminder", "integration_config_id": .string(good),
                ])
                #expect(sent.status == .accepted, "\(sent.text)")
                let failed = try await app.call(.POST, "api/messages", auth: admin, body: [
                    "channel": "sms", "to": "0551234568", "text": "Session reminder", "integration_config_id": .string(bad),
                ])
                #expect(failed.status == .accepted, "\(failed.text)")
                let sentID = try #require(sent.json["public_id"] as? String)
                let failedID = try #require(failed.json["public_id"] as? String)
                #expect(try await app.dispatcher.drainOnce() == 2)

                let manager = try await app.browserSession(role: .manager)
                let list = try await app.page("/settings/messages?lang=en", headers: manager.headers)
                #expect(Set(Fixtures.rows(list.html)) == ["sent", "failed"])
                #expect(list.html.contains("data-public-id=\"\(sentID)\""))
                let detail = try await app.page("/settings/messages/\(sentID)", headers: manager.headers)
                let events = detail.html.components(separatedBy: "data-testid=\"message-event-row\" data-status=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
                #expect(events == ["queued", "sending", "sent"])
                #expect(detail.html.contains("data-source=\"api\""))

                let (headers, body) = manager.form([:])
                let retried = try await app.postForm("/settings/messages/\(failedID)/retry", body, headers: headers)
                #expect(retried.location == "/settings/messages/\(failedID)?notice=message_requeued")
                let after = try await app.call(.GET, "api/messages/\(failedID)", auth: admin)
                #expect(after.json["status"] as? String == "queued")
            }
        }
    }

    @Test("the tab bar has Messages (الرسائل) for every role, and the page's texts follow the language")
    func languages() async throws {
        try await withMoeenApp { app in
            let (_, failed, _) = try await Self.seed(app)
            let manager = try await app.browserSession(role: .manager)
            let arabic = try await app.page("/settings/messages", headers: manager.headers)
            #expect(arabic.html.contains("<html lang=\"ar\" dir=\"rtl\">"))
            #expect(arabic.html.contains(">الرسائل</a>"))
            #expect(arabic.html.contains(Strings.text("retry_message", .ar)))
            #expect(arabic.html.contains(Strings.text("msg_status_failed", .ar)))
            #expect(arabic.html.contains("href=\"/settings/messages?lang=en\""))
            let english = try await app.page("/settings/messages/\(failed.publicID)?lang=en", headers: manager.headers)
            #expect(english.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.html.contains(">Retry</button>"))
            #expect(english.html.contains("Events"))
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let general = try await app.page("/settings", headers: browser.headers)
                #expect(general.html.contains("href=\"/settings/messages\" data-testid=\"tab-messages\""), "\(role)")
            }
        }
    }

    @Test("every state, channel, event source and notice of the tab has both languages")
    func strings() {
        for status in MessageStatus.allCases { #expect(Strings.table["msg_status_\(status.rawValue)"] != nil, "\(status)") }
        for channel in MessageChannel.allCases { #expect(Strings.table["channel_\(channel.rawValue)"] != nil, "\(channel)") }
        for source in MessageEventSource.allCases { #expect(Strings.table["source_\(source.rawValue)"] != nil, "\(source)") }
        for priority in ["normal", "urgent"] { #expect(Strings.table["priority_\(priority)"] != nil) }
        for notice in PageFrame.errorNoticeKeys { #expect(Strings.table[notice] != nil, "\(notice)") }
        #expect(PageFrame.noticeKeys.isDisjoint(with: PageFrame.errorNoticeKeys))
    }
}
