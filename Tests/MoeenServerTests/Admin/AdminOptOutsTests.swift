import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// Opt-outs for the page's tests: recorded through `OptOuts.add` as the API and the webhooks record them,
/// then given the time (and, for snapshots, the public id) the test wants.
enum OptOutFixtures {
    @discardableResult
    static func insert(
        _ app: Application, channel: MessageChannel, address: String, reason: String? = nil,
        source: MessageEventSource = .operator, createdAt: Date, publicID: String? = nil
    ) async throws -> RecipientOptOut {
        let row = try await OptOuts.add(channel: channel, address: address, reason: reason, source: source, by: nil, on: app.db).row
        row.createdAt = createdAt
        if let publicID { row.publicID = publicID }
        try await row.save(on: app.db)
        return row
    }

    /// The page's "next page" link, as a browser follows it.
    static func nextHref(_ html: String) -> String? {
        guard let marker = html.range(of: "\" rel=\"next\"") else { return nil }
        let before = html[..<marker.lowerBound]
        guard let start = before.range(of: "href=\"", options: .backwards) else { return nil }
        return before[start.upperBound...].replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The listed rows' addresses, in order.
    static func addresses(_ html: String) -> [String] {
        html.components(separatedBy: "data-testid=\"opt-out-address\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    static func seed(_ app: Application) async throws -> (sms: RecipientOptOut, email: RecipientOptOut, whatsapp: RecipientOptOut) {
        let base = Date().addingTimeInterval(-3600)
        let sms = try await insert(app, channel: .sms, address: "+966551234567", reason: "Taken by phone", createdAt: base)
        let email = try await insert(app, channel: .email, address: "parent@example.org", createdAt: base.addingTimeInterval(60))
        let whatsapp = try await insert(app, channel: .whatsapp, address: "+966551112222", source: .webhook,
                                        createdAt: base.addingTimeInterval(120))
        return (sms, email, whatsapp)
    }
}

@Suite("Admin pages: opt-outs under the Messages tab")
struct AdminOptOutsTests {
    typealias Fixtures = OptOutFixtures

    @Test("every role reads the opt-outs newest first, linked from the Messages tab; viewers see addresses masked as the API masks them, and no forms")
    func listForEachRole() async throws {
        try await withMoeenApp { app in
            let (sms, email, whatsapp) = try await Fixtures.seed(app)
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let messages = try await app.page("/settings/messages", headers: browser.headers).html
                #expect(messages.contains("href=\"/settings/messages/opt-outs\" data-testid=\"opt-outs-link\""), "\(role)")

                let res = try await app.page("/settings/messages/opt-outs", headers: browser.headers)
                #expect(res.status == .ok, "\(role)")
                let html = res.html
                #expect(html.contains("data-testid=\"tab-messages\" aria-current=\"page\""), "\(role)")
                #expect(html.contains("<a href=\"/settings/messages\">\(Strings.text("tab_messages", .ar))</a>"), "\(role)")
                let canEdit = role.isAtLeast(.staff)
                #expect(html.contains("data-testid=\"opt-out-form\"") == canEdit, "\(role)")
                #expect(html.contains("data-testid=\"remove-opt-out\"") == canEdit, "\(role)")
                #expect(html.contains("action=\"/settings/messages/opt-outs/\(sms.publicID)/remove\"") == canEdit, "\(role)")
                #expect(html.contains(Strings.text("read_only_note", .ar)) == !canEdit, "\(role)")
                #expect(html.contains(Strings.text("opt_out_source_webhook", .ar)), "\(role)")
                #expect(html.contains(">Taken by phone</span>"), "\(role)")
                if role == .viewer {
                    #expect(Fixtures.addresses(html) == [PhoneNumber.masked(whatsapp.address), EmailAddress.masked(email.address),
                                                         PhoneNumber.masked(sms.address)])
                    #expect(!html.contains(sms.address) && !html.contains(email.address) && !html.contains(whatsapp.address))
                    #expect(html.contains(Strings.text("masked_note", .ar)))
                    // The same masking as GET /api/opt-outs for a viewer.
                    let api = try await app.call(.GET, "api/opt-outs", auth: try await app.bearer(role: .viewer))
                    let shown = (api.json["data"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
                    #expect(shown == Fixtures.addresses(html))
                } else {
                    #expect(Fixtures.addresses(html) == ["+966551112222", "parent@example.org", "+966551234567"], "\(role)")
                }
            }
            let english = try await app.page("/settings/messages/opt-outs?lang=en", headers: try await app.browserSession(role: .staff).headers)
            #expect(english.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.html.contains("<h1 id=\"opt-outs-heading\">Opt-outs</h1>"))
            #expect(english.html.contains("The recipient replied STOP"))
            #expect(english.html.contains(">Remove<span class=\"visually-hidden\"> <bdi dir=\"ltr\">+966551234567</bdi> (SMS)</span>"))
        }
    }

    @Test("with nobody opted out the page says so; the add form offers WhatsApp, SMS and e-mail, with the reason prefilled as taken by phone")
    func emptyAndForm() async throws {
        try await withMoeenApp { app in
            let staff = try await app.browserSession(role: .staff)
            let arabic = try await app.page("/settings/messages/opt-outs", headers: staff.headers).html
            #expect(arabic.contains("data-testid=\"opt-outs-empty\">\(Strings.text("opt_outs_empty", .ar))<"))
            #expect(!arabic.contains("data-testid=\"opt-outs-table\""))
            #expect(arabic.contains("<form method=\"post\" action=\"/settings/messages/opt-outs\""))
            #expect(arabic.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"\(staff.csrf)\">"))
            #expect(arabic.contains("<label for=\"opt-out-channel\">") && arabic.contains("<select id=\"opt-out-channel\" name=\"channel\">"))
            let options = arabic.components(separatedBy: "<option value=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(options == ["whatsapp", "sms", "email"])
            #expect(arabic.contains("<label for=\"opt-out-address\">"))
            #expect(arabic.contains("value=\"\(Strings.text("opt_out_reason_default", .ar))\""))
            let english = try await app.page("/settings/messages/opt-outs?lang=en", headers: staff.headers).html
            #expect(english.contains("Nobody has opted out."))
            #expect(english.contains("value=\"Taken by phone\""))
        }
    }

    @Test("staff add an opt-out taken by phone: the number normalised, the recipient's queued messages on that channel cancelled, and the notice says how many")
    func staffAdds() async throws {
        try await withMoeenApp { app in
            let base = Date().addingTimeInterval(-600)
            let queued = try await MessagesTabFixtures.insert(app, status: .queued, createdAt: base)
            let queuedToo = try await MessagesTabFixtures.insert(app, status: .queued, createdAt: base.addingTimeInterval(1))
            let sent = try await MessagesTabFixtures.insert(app, status: .sent, createdAt: base.addingTimeInterval(2))
            let someoneElse = try await MessagesTabFixtures.insert(app, status: .queued, to: "+966559999999", createdAt: base.addingTimeInterval(3))
            let byMail = try await MessagesTabFixtures.insert(app, status: .queued, channel: .email, to: "parent@example.org",
                                                              createdAt: base.addingTimeInterval(4))

            let staff = try await app.browserSession(role: .staff)
            let (headers, body) = staff.form(["channel": "sms", "address": "055 123 4567", "reason": "Taken by phone"])
            let added = try await app.postForm("/settings/messages/opt-outs", body, headers: headers)
            #expect(added.status == .seeOther)
            #expect(added.location == "/settings/messages/opt-outs?cancelled=2&notice=opt_out_added")
            for row in [queued, queuedToo] { #expect(try await MessagesTabFixtures.status(app, row) == "cancelled") }
            #expect(try await MessagesTabFixtures.status(app, sent) == "sent")
            #expect(try await MessagesTabFixtures.status(app, someoneElse) == "queued")
            #expect(try await MessagesTabFixtures.status(app, byMail) == "queued")
            let cancelledRow = try #require(try await OutboundMessage.find(queued.id, on: app.db))
            #expect(cancelledRow.lastErrorCode == "recipient_opted_out")

            let page = try await app.page(try #require(added.location), headers: staff.headers)
            #expect(page.html.contains("notice-success"))
            #expect(page.html.contains("\(Strings.text("opt_out_added", .ar)) \(Strings.text("opt_out_cancelled_count", .ar)) 2"))
            #expect(Fixtures.addresses(page.html) == ["+966551234567"])
            let api = try await app.call(.GET, "api/opt-outs", auth: try await app.bearer(role: .staff))
            let rows = try #require(api.json["data"] as? [[String: Any]])
            #expect(rows.count == 1)
            #expect(rows.first?["address"] as? String == "+966551234567")
            #expect(rows.first?["reason"] as? String == "Taken by phone")
            #expect(rows.first?["source"] as? String == "operator")
            let stored = try #require(try await RecipientOptOut.query(on: app.db).first())
            #expect(stored.createdBy == staff.userID)

            // The same recipient again: nothing new, and the page says so.
            let again = try await app.postForm("/settings/messages/opt-outs", body, headers: headers)
            #expect(again.location == "/settings/messages/opt-outs?notice=opt_out_exists")
            let exists = try await app.page(try #require(again.location) + "&lang=en", headers: staff.headers)
            #expect(exists.html.contains("This recipient had already opted out on this channel; nothing changed."))
            #expect(try await RecipientOptOut.query(on: app.db).count() == 1)

            // An e-mail address is stored in lower case; no reason is no reason; the count reads in English.
            let (_, mail) = staff.form(["channel": "email", "address": "  Parent@Example.ORG ", "reason": ""])
            let mailed = try await app.postForm("/settings/messages/opt-outs?lang=en", mail, headers: headers)
            #expect(mailed.location == "/settings/messages/opt-outs?cancelled=1&notice=opt_out_added")
            #expect(try await MessagesTabFixtures.status(app, byMail) == "cancelled")
            let english = try await app.page(try #require(mailed.location) + "&lang=en", headers: staff.headers)
            #expect(english.html.contains("The opt-out is recorded. Queued messages cancelled: 1"))
            let mailRow = try #require(try await RecipientOptOut.query(on: app.db).filter(\.$channel == "email").first())
            #expect(mailRow.address == "parent@example.org")
            #expect(mailRow.reason == nil)
            // Sending to either is now refused by the API.
            let refused = try await app.call(.POST, "api/messages", auth: try await app.bearer(role: .staff),
                                             body: ["channel": "sms", "to": "+966551234567", "text": "hello"])
            #expect(refused.status == .unprocessableEntity)
            #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "recipient_opted_out")
        }
    }

    @Test("a refused addition is the page again (422) with each problem next to its field and in a summary linking to it, what was entered kept, nothing recorded")
    func refused() async throws {
        try await withMoeenApp { app in
            let staff = try await app.browserSession(role: .staff)
            let (headers, body) = staff.form(["channel": "sms", "address": "call me", "reason": String(repeating: "x", count: 501)])
            let res = try await app.postForm("/settings/messages/opt-outs", body, headers: headers)
            #expect(res.status == .unprocessableEntity)
            let html = res.html
            #expect(html.contains("data-testid=\"form-errors\""))
            #expect(html.contains(Strings.text("errors_summary", .ar)))
            #expect(html.contains("<a href=\"#opt-out-address\">\(Strings.text("opt_out_address", .ar)): \(Strings.text("error_opt_out_phone", .ar))</a>"))
            #expect(html.contains("<a href=\"#opt-out-reason\">\(Strings.text("opt_out_reason", .ar)): \(Strings.text("error_opt_out_reason", .ar))</a>"))
            #expect(html.contains("aria-describedby=\"opt-out-address-hint opt-out-address-error\" aria-invalid=\"true\""))
            #expect(html.contains("id=\"opt-out-address-error\" data-field=\"address\""))
            #expect(html.contains("aria-invalid=\"true\" aria-describedby=\"opt-out-reason-error\""))
            #expect(html.contains("value=\"call me\""))
            #expect(html.contains("<option value=\"sms\" selected>"))
            #expect(try await RecipientOptOut.query(on: app.db).count() == 0)

            let mail = try await app.postForm("/settings/messages/opt-outs?lang=en", staff.form(["channel": "email", "address": "not-an-address"]).1,
                                              headers: headers)
            #expect(mail.status == .unprocessableEntity)
            #expect(mail.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(mail.html.contains("<a href=\"#opt-out-address\">Phone number or e-mail address: Enter a valid e-mail address.</a>"))
            #expect(mail.html.contains("<option value=\"email\" selected>"))

            // Slack, or a channel the form never offers.
            for channel in ["slack", "fax", ""] {
                let odd = try await app.postForm("/settings/messages/opt-outs?lang=en", staff.form(["channel": channel, "address": "+966551234567"]).1,
                                                 headers: headers)
                #expect(odd.status == .unprocessableEntity, "\(channel)")
                #expect(odd.html.contains("<a href=\"#opt-out-channel\">Channel: Choose WhatsApp, SMS or e-mail.</a>"), "\(channel)")
                #expect(odd.html.contains("<select id=\"opt-out-channel\" name=\"channel\" aria-invalid=\"true\" aria-describedby=\"opt-out-channel-error\">"), "\(channel)")
            }
            #expect(try await RecipientOptOut.query(on: app.db).count() == 0)
        }
    }

    @Test("staff remove an opt-out with the CSRF token and go back to the list with a notice; unknown ids are 404")
    func staffRemoves() async throws {
        try await withMoeenApp { app in
            let (sms, email, _) = try await Fixtures.seed(app)
            let staff = try await app.browserSession(role: .staff)
            let (headers, body) = staff.form(["return_to": "/settings/messages/opt-outs?limit=2"])
            let removed = try await app.postForm("/settings/messages/opt-outs/\(sms.publicID)/remove", body, headers: headers)
            #expect(removed.status == .seeOther)
            #expect(removed.location == "/settings/messages/opt-outs?limit=2&notice=opt_out_removed")
            #expect(try await RecipientOptOut.find(sms.id, on: app.db) == nil)
            let page = try await app.page(try #require(removed.location), headers: staff.headers)
            #expect(page.html.contains(Strings.text("opt_out_removed", .ar)))
            #expect(!Fixtures.addresses(page.html).contains(sms.address))
            // The recipient may be messaged again.
            let sent = try await app.call(.POST, "api/messages", auth: try await app.bearer(role: .staff),
                                          body: ["channel": "sms", "to": .string(sms.address), "text": "hello"])
            #expect((sent.json["error"] as? [String: Any])?["code"] as? String != "recipient_opted_out", "\(sent.text)")

            // return_to only leads back to the list.
            for (index, foreign) in ["https://evil.example/x", "//evil.example", "/settings/users", "/settings/messages",
                                     "/settings/messages/opt-outs?notice=saved&lang=en#x"].enumerated() {
                let row = try await Fixtures.insert(app, channel: .sms, address: "+96655000000\(index)", createdAt: Date())
                let (_, odd) = staff.form(["return_to": foreign])
                let res = try await app.postForm("/settings/messages/opt-outs/\(row.publicID)/remove", odd, headers: headers)
                #expect(res.location == "/settings/messages/opt-outs?notice=opt_out_removed", "\(foreign)")
            }
            #expect(try await RecipientOptOut.find(email.id, on: app.db) != nil)
            for id in [sms.publicID, "opt_20260101_000000000000", "int_20260101_00000000", UUID().uuidString] {
                let missing = try await app.postForm("/settings/messages/opt-outs/\(id)/remove", body, headers: headers)
                #expect(missing.status == .notFound, "\(id)")
            }
        }
    }

    @Test("adding and removing need staff and the CSRF token: viewers get the 403 page, a missing token is 403, signed out goes to sign-in; nothing changes")
    func needStaffAndCSRF() async throws {
        try await withMoeenApp { app in
            let (sms, _, _) = try await Fixtures.seed(app)
            let viewer = try await app.browserSession(role: .viewer)
            let (viewerHeaders, viewerBody) = viewer.form(["channel": "sms", "address": "+966550000000"])
            for path in ["/settings/messages/opt-outs", "/settings/messages/opt-outs/\(sms.publicID)/remove"] {
                let res = try await app.postForm(path, viewerBody, headers: viewerHeaders)
                #expect(res.status == .forbidden, "\(path)")
                #expect(res.html.contains("data-testid=\"error-page\""), "\(path)")
            }
            let staff = try await app.browserSession(role: .staff)
            let (headers, noToken) = staff.form(["channel": "sms", "address": "+966550000000"], csrf: false)
            for path in ["/settings/messages/opt-outs", "/settings/messages/opt-outs/\(sms.publicID)/remove"] {
                let res = try await app.postForm(path, noToken, headers: headers)
                #expect(res.status == .forbidden, "\(path)")
                #expect(res.html.contains(Strings.text("csrf_title", .ar)), "\(path)")
                let signedOut = try await app.postForm(path, noToken)
                #expect(signedOut.status == .seeOther, "\(path)")
                #expect(signedOut.location == "/login", "\(path)")
            }
            #expect(try await RecipientOptOut.query(on: app.db).count() == 3)
        }
    }

    @Test("pages follow the API's keyset cursor; remove keeps the page it was pressed on")
    func paging() async throws {
        try await withMoeenApp { app in
            let base = Date().addingTimeInterval(-600)
            for index in 0..<5 {
                try await Fixtures.insert(app, channel: .sms, address: "+96655000000\(index)", createdAt: base.addingTimeInterval(Double(index)))
            }
            let staff = try await app.browserSession(role: .staff)
            let first = try await app.page("/settings/messages/opt-outs?limit=2", headers: staff.headers)
            #expect(Fixtures.addresses(first.html) == ["+966550000004", "+966550000003"])
            let api = try await app.call(.GET, "api/opt-outs?limit=2", auth: try await app.bearer(role: .viewer))
            let cursor = try #require(api.json["next_cursor"] as? String)
            let encoded = try #require(cursor.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")))
            let next = "/settings/messages/opt-outs?limit=2&amp;cursor=\(encoded)"
            #expect(first.html.contains("href=\"\(next)\" rel=\"next\" data-testid=\"next-page\""))
            #expect(!first.html.contains("data-testid=\"first-page\""))
            let second = try await app.page(next.replacingOccurrences(of: "&amp;", with: "&"), headers: staff.headers)
            #expect(Fixtures.addresses(second.html) == ["+966550000002", "+966550000001"])
            #expect(second.html.contains("href=\"/settings/messages/opt-outs?limit=2\" data-testid=\"first-page\""))
            #expect(second.html.contains("name=\"return_to\" value=\"\(next)\""))
            let last = try await app.page(try #require(Fixtures.nextHref(second.html)), headers: staff.headers)
            #expect(Fixtures.addresses(last.html) == ["+966550000000"])
            #expect(!last.html.contains("data-testid=\"next-page\""))

            let forged = try await app.page("/settings/messages/opt-outs?cursor=bm90LWEtY3Vyc29y", headers: staff.headers)
            #expect(forged.status == .badRequest)
            #expect(forged.html.contains("data-testid=\"error-page\""))
        }
    }

    @Test("every source, notice and error of the page has both languages")
    func strings() {
        for source in ["operator", "webhook"] { #expect(Strings.table["opt_out_source_\(source)"] != nil, "\(source)") }
        for channel in OptOutsPageController.channels { #expect(Strings.table["channel_\(channel.rawValue)"] != nil) }
        for key in ["opt_out_added", "opt_out_cancelled_count", "opt_out_exists", "opt_out_removed", "error_opt_out_channel",
                    "error_opt_out_phone", "error_opt_out_email", "error_opt_out_reason"] {
            #expect(Strings.table[key] != nil, "\(key)")
        }
        #expect(PageFrame.noticeKeys.isSuperset(of: ["opt_out_exists", "opt_out_removed", "quiet_hours_saved"]))
    }
}
