import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// Inbound replies for the page's tests: rows with the columns webhook processing fills, given the time (and,
/// for snapshots, the public id) the test wants; patients and CRM contacts for them to match.
enum InboundFixtures {
    @discardableResult
    static func insert(
        _ app: Application, channel: MessageChannel, from: String, text: String?, patient: UUID? = nil, contact: UUID? = nil,
        action: String? = nil, receivedAt: Date, publicID: String? = nil
    ) async throws -> InboundMessage {
        let row = InboundMessage()
        row.publicID = publicID ?? PublicID.make(.inboundMessage, at: receivedAt, randomHexDigits: 16)
        row.channel = channel.rawValue
        row.from = from
        row.to = channel == .whatsapp ? "15550000001" : "+15550000001"
        row.text = text
        row.providerMessageID = channel == .whatsapp ? "wamid.\(UUID().uuidString.prefix(8))" : "SM\(UUID().uuidString.prefix(8))"
        row.receivedAt = receivedAt
        row.patientID = patient
        row.contactID = contact
        row.optOutAction = action
        try await row.create(on: app.db)
        // As processing stores it: created once received (the list's order).
        row.createdAt = receivedAt
        try await row.save(on: app.db)
        return row
    }

    static func patient(_ app: Application, name: String, phone: String) async throws -> UUID {
        let patient = Patient()
        patient.publicID = PublicID.make(.patient)
        patient.fullName = name
        patient.phone = phone
        try await patient.create(on: app.db)
        return try patient.requireID()
    }

    static func contact(_ app: Application, first: String, last: String?, phone: String) async throws -> UUID {
        let contact = CRMContact()
        contact.publicID = PublicID.make(.contact)
        contact.firstName = first
        contact.lastName = last
        contact.phone = phone
        contact.status = "lead"
        contact.tags = []
        contact.socialMedia = [:]
        contact.metadata = [:]
        try await contact.create(on: app.db)
        return try contact.requireID()
    }

    /// The listed rows' senders, in order.
    static func senders(_ html: String) -> [String] {
        html.components(separatedBy: "data-testid=\"inbound-from\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    /// A thank-you from a patient by WhatsApp, a STOP from a CRM contact by SMS, a START from a number nobody has,
    /// and a reply with no text (a WhatsApp sticker), a minute apart, with fixed public ids.
    static func seed(_ app: Application, base: Date) async throws {
        let patient = try await Self.patient(app, name: "سارة العتيبي", phone: "+966551234567")
        let contact = try await Self.contact(app, first: "Noura", last: "Alharbi", phone: "+966551112222")
        try await insert(app, channel: .whatsapp, from: "+966551234567", text: "شكراً، سأحضر غداً", patient: patient,
                         receivedAt: base, publicID: "inm_20260301_00000000000000a1")
        try await insert(app, channel: .sms, from: "+966551112222", text: "STOP", contact: contact, action: "opt_out",
                         receivedAt: base.addingTimeInterval(60), publicID: "inm_20260301_00000000000000b2")
        try await insert(app, channel: .sms, from: "+966553334444", text: "START", action: "opt_in",
                         receivedAt: base.addingTimeInterval(120), publicID: "inm_20260301_00000000000000c3")
        try await insert(app, channel: .whatsapp, from: "+966551234567", text: nil, patient: patient,
                         receivedAt: base.addingTimeInterval(180), publicID: "inm_20260301_00000000000000d4")
    }
}

@Suite("Admin pages: inbound replies under the Messages tab")
struct AdminInboundRepliesTests {
    typealias Fixtures = InboundFixtures

    @Test("every role reads the replies newest first, linked from the Messages tab, with whom each matched and whether it opted out or in; viewers see senders masked as the API masks them; nobody gets a form")
    func listForEachRole() async throws {
        try await withMoeenApp { app in
            let base = Date().addingTimeInterval(-3600)
            try await Fixtures.seed(app, base: base)
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let messages = try await app.page("/settings/messages", headers: browser.headers).html
                #expect(messages.contains("<a href=\"/settings/messages/inbound\" data-testid=\"inbound-link\">\(Strings.text("inbound_link", .ar))</a>"), "\(role)")

                let res = try await app.page("/settings/messages/inbound", headers: browser.headers)
                #expect(res.status == .ok, "\(role)")
                let html = res.html
                #expect(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "\(role)")
                #expect(html.contains("data-testid=\"tab-messages\" aria-current=\"page\""), "\(role)")
                #expect(html.contains("<a href=\"/settings/messages\">\(Strings.text("tab_messages", .ar))</a>"), "\(role)")
                #expect(html.contains("<h1 id=\"inbound-heading\">\(Strings.text("inbound_heading", .ar))</h1>"), "\(role)")
                // Read-only for everyone: the only form is the sign-out button's.
                #expect(html.components(separatedBy: "<form").count == 2, "\(role)")
                #expect(!html.contains(Strings.text("read_only_note", .ar)), "\(role)")
                #expect(html.components(separatedBy: "data-testid=\"inbound-row\"").count == 5, "\(role)")
                #expect(html.contains("data-testid=\"inbound-row\" data-channel=\"whatsapp\" data-matched=\"patient\" data-opt-out-action=\"none\" data-public-id=\"inm_20260301_00000000000000a1\""), "\(role)")
                #expect(html.contains("data-testid=\"inbound-row\" data-channel=\"sms\" data-matched=\"contact\" data-opt-out-action=\"opt_out\" data-public-id=\"inm_20260301_00000000000000b2\""), "\(role)")
                #expect(html.contains("data-testid=\"inbound-row\" data-channel=\"sms\" data-matched=\"none\" data-opt-out-action=\"opt_in\" data-public-id=\"inm_20260301_00000000000000c3\""), "\(role)")
                #expect(html.contains("<span class=\"muted\">\(Strings.text("matched_patient", .ar)):</span> <bdi data-testid=\"inbound-patient\">سارة العتيبي</bdi>"), "\(role)")
                #expect(html.contains("<span class=\"muted\">\(Strings.text("matched_contact", .ar)):</span> <bdi data-testid=\"inbound-contact\">Noura Alharbi</bdi>"), "\(role)")
                #expect(html.contains("<span class=\"muted\">\(Strings.text("matched_none", .ar))</span>"), "\(role)")
                #expect(html.contains("<span class=\"inbound-text\" dir=\"auto\" data-testid=\"inbound-text\">شكراً، سأحضر غداً</span>"), "\(role)")
                #expect(html.contains("<span class=\"muted\">\(Strings.text("no_text", .ar))</span>"), "\(role)")
                #expect(html.contains("<span class=\"badge badge-opt_out\" data-testid=\"inbound-action\"><span aria-hidden=\"true\">⊘</span> \(Strings.text("inbound_action_opt_out", .ar))</span>"), "\(role)")
                #expect(html.contains("<span class=\"badge badge-opt_in\" data-testid=\"inbound-action\"><span aria-hidden=\"true\">↺</span> \(Strings.text("inbound_action_opt_in", .ar))</span>"), "\(role)")
                #expect(html.contains(Strings.text("channel_sms", .ar)) && html.contains(Strings.text("channel_whatsapp", .ar)), "\(role)")
                let newest = TimeDisplay(base.addingTimeInterval(180), .ar)
                #expect(html.contains("<th scope=\"row\"><time datetime=\"\(newest.iso)\">\(newest.text)</time></th>"), "\(role)")

                let senders = ["+966551234567", "+966553334444", "+966551112222", "+966551234567"]
                if role == .viewer {
                    #expect(Fixtures.senders(html) == senders.map(PhoneNumber.masked))
                    for sender in Set(senders) { #expect(!html.contains(sender.dropFirst())) }
                    #expect(html.contains(Strings.text("inbound_masked_note", .ar)))
                    // The same masking as GET /api/inbound-messages for a viewer.
                    let api = try await app.call(.GET, "api/inbound-messages", auth: try await app.bearer(role: .viewer))
                    let shown = (api.json["data"] as? [[String: Any]] ?? []).compactMap { $0["from"] as? String }
                    #expect(shown == Fixtures.senders(html))
                } else {
                    #expect(Fixtures.senders(html) == senders, "\(role)")
                    #expect(!html.contains(Strings.text("inbound_masked_note", .ar)), "\(role)")
                }
            }
            let english = try await app.page("/settings/messages/inbound?lang=en", headers: try await app.browserSession(role: .viewer).headers).html
            #expect(english.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.contains("<h1 id=\"inbound-heading\">Inbound replies</h1>"))
            #expect(english.contains("Senders&#39; numbers are partly hidden for your role."))
            #expect(english.contains("<span class=\"muted\">Patient:</span> <bdi data-testid=\"inbound-patient\">سارة العتيبي</bdi>"))
            #expect(english.contains("<span class=\"muted\">CRM contact:</span> <bdi data-testid=\"inbound-contact\">Noura Alharbi</bdi>"))
            #expect(english.contains("<span class=\"muted\">No match</span>"))
            #expect(english.contains("<span aria-hidden=\"true\">⊘</span> Opted out</span>"))
            #expect(english.contains("<span aria-hidden=\"true\">↺</span> Opted back in</span>"))
            #expect(english.contains("<span class=\"muted\">No text.</span>"))
        }
    }

    @Test("with no reply the page says so, in Arabic and in English")
    func empty() async throws {
        try await withMoeenApp { app in
            let staff = try await app.browserSession(role: .staff)
            let arabic = try await app.page("/settings/messages/inbound", headers: staff.headers).html
            #expect(arabic.contains("data-testid=\"inbound-empty\">\(Strings.text("inbound_empty", .ar))</p>"))
            #expect(!arabic.contains("data-testid=\"inbound-table\""))
            #expect(!arabic.contains("data-testid=\"next-page\""))
            let english = try await app.page("/settings/messages/inbound?lang=en", headers: staff.headers).html
            #expect(english.contains("No replies yet. Replies appear here once the provider sends them to the webhook address."))
        }
    }

    @Test("pages follow the API's keyset cursor; a forged cursor is the 400 page")
    func paging() async throws {
        try await withMoeenApp { app in
            let base = Date().addingTimeInterval(-600)
            for index in 0..<5 {
                try await Fixtures.insert(app, channel: .sms, from: "+96655000000\(index)", text: "reply \(index)",
                                          receivedAt: base.addingTimeInterval(Double(index)))
            }
            let staff = try await app.browserSession(role: .staff)
            let first = try await app.page("/settings/messages/inbound?limit=2", headers: staff.headers)
            #expect(Fixtures.senders(first.html) == ["+966550000004", "+966550000003"])
            let api = try await app.call(.GET, "api/inbound-messages?limit=2", auth: try await app.bearer(role: .staff))
            let cursor = try #require(api.json["next_cursor"] as? String)
            let encoded = try #require(cursor.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")))
            let next = "/settings/messages/inbound?limit=2&amp;cursor=\(encoded)"
            #expect(first.html.contains("<nav class=\"pager\" aria-label=\"\(Strings.text("inbound_pages_label", .ar))\">"))
            #expect(first.html.contains("href=\"\(next)\" rel=\"next\" data-testid=\"next-page\""))
            #expect(!first.html.contains("data-testid=\"first-page\""))
            let second = try await app.page(next.replacingOccurrences(of: "&amp;", with: "&"), headers: staff.headers)
            #expect(Fixtures.senders(second.html) == ["+966550000002", "+966550000001"])
            #expect(second.html.contains("href=\"/settings/messages/inbound?limit=2\" data-testid=\"first-page\""))
            let last = try await app.page(try #require(OptOutFixtures.nextHref(second.html)), headers: staff.headers)
            #expect(Fixtures.senders(last.html) == ["+966550000000"])
            #expect(!last.html.contains("data-testid=\"next-page\""))
            // The language link keeps the page.
            #expect(second.html.contains("lang=en\" lang=\"en\" hreflang=\"en\" data-testid=\"language-switch\""))

            let forged = try await app.page("/settings/messages/inbound?cursor=bm90LWEtY3Vyc29y", headers: staff.headers)
            #expect(forged.status == .badRequest)
            #expect(forged.html.contains("data-testid=\"error-page\""))
        }
    }

    @Test("every channel, match and opt-out action of the page has both languages")
    func strings() {
        for channel in ["sms", "whatsapp"] { #expect(Strings.table["channel_\(channel)"] != nil, "\(channel)") }
        for key in ["inbound_heading", "inbound_intro", "inbound_link", "inbound_link_hint", "inbound_empty", "inbound_pages_label",
                    "inbound_masked_note", "col_from", "col_text", "col_matched", "col_opt_out_action", "matched_patient",
                    "matched_contact", "matched_none", "inbound_action_opt_out", "inbound_action_opt_in"] {
            #expect(Strings.table[key] != nil, "\(key)")
        }
        #expect(StatusBadge.inboundAction(nil, .en) == nil)
        #expect(StatusBadge.inboundAction("opt_out", .en)?.label == "Opted out")
    }
}
