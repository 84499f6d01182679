import Foundation
import MoeenCore
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

extension Application {
    /// Posts a URL-encoded form whose fields may repeat (`days=sun&days=mon`, as a browser sends ticked boxes).
    func postFormFields(_ path: String, _ fields: [(String, String)], headers: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let body = fields.map { name, value in
            "\(name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")=\(value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")"
        }.joined(separator: "&")
        return try await testing().sendRequest(.POST, path, headers: headers) { req in
            req.headers.contentType = .urlEncodedForm
            req.body = ByteBuffer(string: body)
        }
    }
}

@Suite("Admin pages: quiet hours on the General tab")
struct AdminQuietHoursTests {
    /// The quiet-hours form of `browser` with these fields (the session's CSRF token first).
    static func form(_ browser: BrowserSession, enabled: Bool = true, start: String = "21:00", end: String = "08:00",
                     days: [String] = QuietHoursSection.dayOrder, timezone: String = "Asia/Riyadh") -> [(String, String)] {
        var fields: [(String, String)] = [("csrf_token", browser.csrf)]
        if enabled { fields.append(("enabled", "true")) }
        fields += [("start", start), ("end", end)]
        fields += days.map { ("days", $0) }
        fields.append(("timezone", timezone))
        return fields
    }

    static func stored(_ app: Application) async throws -> [String: Any] {
        let res = try await app.call(.GET, "api/settings/delivery", auth: try await app.bearer(role: .viewer))
        #expect(res.status == .ok)
        return try #require(res.json["quiet_hours"] as? [String: Any])
    }

    @Test("every role reads the centre's quiet hours on General (defaults until saved); only admins get the form, with its CSRF token")
    func everyRoleReads() async throws {
        try await withMoeenApp { app in
            for role in UserRole.allCases {
                let browser = try await app.browserSession(role: role)
                let arabic = try await app.page("/settings", headers: browser.headers)
                #expect(arabic.status == .ok, "\(role)")
                let html = arabic.html
                #expect(html.contains("data-testid=\"quiet-hours-summary\" data-enabled=\"off\""), "\(role)")
                #expect(html.contains(Strings.text("quiet_hours_heading", .ar)), "\(role)")
                #expect(html.contains(Strings.text("quiet_hours_off", .ar)), "\(role)")
                #expect(html.contains("data-testid=\"quiet-hours-start\">21:00<"), "\(role)")
                #expect(html.contains("data-testid=\"quiet-hours-end\">08:00<"), "\(role)")
                #expect(html.contains("data-testid=\"quiet-hours-days\">\(Strings.text("quiet_hours_every_day", .ar))<"), "\(role)")
                #expect(html.contains("data-testid=\"quiet-hours-timezone\">Asia/Riyadh<"), "\(role)")
                let admin = role == .admin
                #expect(html.contains("data-testid=\"quiet-hours-form\"") == admin, "\(role)")
                #expect(html.contains("action=\"/settings/delivery\"") == admin, "\(role)")
                #expect(!html.contains("data-testid=\"form-errors\""), "\(role)")
                let english = try await app.page("/settings?lang=en", headers: browser.headers).html
                #expect(english.contains(">Quiet hours</h2>"), "\(role)")
                #expect(english.contains("data-testid=\"quiet-hours-days\">Every day<"), "\(role)")
                #expect(english.contains(" Off</span>"), "\(role)")
            }
            let admin = try await app.browserSession(role: .admin)
            let form = try await app.page("/settings", headers: admin.headers).html
            #expect(form.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"\(admin.csrf)\">"))
            #expect(form.contains("<input type=\"checkbox\" id=\"qh-enabled\" name=\"enabled\" value=\"true\">"))
            #expect(form.contains("<label for=\"qh-enabled\">"))
            #expect(form.contains("<input type=\"time\" id=\"qh-start\" name=\"start\" value=\"21:00\""))
            #expect(form.contains("<input type=\"time\" id=\"qh-end\" name=\"end\" value=\"08:00\""))
            #expect(form.contains("<legend>\(Strings.text("quiet_hours_days", .ar))</legend>"))
            for day in QuietHoursSection.dayOrder {
                #expect(form.contains("<input type=\"checkbox\" id=\"qh-day-\(day)\" name=\"days\" value=\"\(day)\" checked> <label for=\"qh-day-\(day)\">\(Strings.text("day_\(day)", .ar))</label>"))
            }
            #expect(form.contains("<input id=\"qh-timezone\" name=\"timezone\" value=\"Asia/Riyadh\""))
            // Sunday first, as the centre's week reads.
            let sunday = try #require(form.range(of: "id=\"qh-day-sun\""))
            let monday = try #require(form.range(of: "id=\"qh-day-mon\""))
            #expect(sunday.lowerBound < monday.lowerBound)
        }
    }

    @Test("an admin saves quiet hours: redirected with a notice, stored as the API reads them, the preferences cache invalidated")
    func adminSaves() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            // The dispatcher's view of the preferences, read (and cached) before the change.
            #expect(await app.centrePreferences.current(on: app.db) == .default)

            let saved = try await app.postFormFields("/settings/delivery", Self.form(admin, start: "22:30", end: "07:00", days: ["fri", "thu"]),
                                                     headers: admin.headers)
            #expect(saved.status == .seeOther)
            #expect(saved.location == "/settings?notice=quiet_hours_saved")
            let stored = try await Self.stored(app)
            #expect(stored["enabled"] as? Bool == true)
            #expect(stored["start"] as? String == "22:30")
            #expect(stored["end"] as? String == "07:00")
            #expect(stored["days"] as? [String] == ["thu", "fri"])
            #expect(stored["timezone"] as? String == "Asia/Riyadh")
            let current = await app.centrePreferences.current(on: app.db)
            #expect(current.quietHours.enabled && current.quietHours.start == "22:30")
            #expect(current.activeQuietHours?.days == [4, 5])

            let page = try await app.page(try #require(saved.location) + "&lang=en", headers: admin.headers)
            #expect(page.status == .ok)
            #expect(page.html.contains("notice-success"))
            #expect(page.html.contains("The quiet hours are saved."))
            #expect(page.html.contains("data-testid=\"quiet-hours-summary\" data-enabled=\"on\""))
            #expect(page.html.contains("data-testid=\"quiet-hours-days\">Thursday, Friday<"))
            #expect(page.html.contains("data-testid=\"quiet-hours-start\">22:30<"))
            #expect(page.html.contains("id=\"qh-enabled\" name=\"enabled\" value=\"true\" checked>"))
            #expect(page.html.contains("id=\"qh-day-thu\" name=\"days\" value=\"thu\" checked>"))
            #expect(page.html.contains("id=\"qh-day-sun\" name=\"days\" value=\"sun\">"))
            let arabic = try await app.page("/settings?lang=ar", headers: admin.headers).html
            #expect(arabic.contains("data-testid=\"quiet-hours-days\">الخميس، الجمعة<"))

            // Every day ticked is stored as the API's "every day"; an unticked box turns quiet hours off.
            let everyDay = try await app.postFormFields("/settings/delivery", Self.form(admin, enabled: false, timezone: "Europe/London"),
                                                        headers: admin.headers)
            #expect(everyDay.location == "/settings?notice=quiet_hours_saved")
            let again = try await Self.stored(app)
            #expect(again["enabled"] as? Bool == false)
            #expect(again["days"] as? [String] == nil)
            #expect(again["timezone"] as? String == "Europe/London")
            #expect(await app.centrePreferences.current(on: app.db).activeQuietHours == nil)
        }
    }

    @Test("a refused submission is the General tab again (422): each problem next to its field and in a summary linking to it, what was entered kept, nothing saved")
    func refused() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let res = try await app.postFormFields("/settings/delivery", Self.form(admin, start: "7pm", days: [], timezone: "Mars/Olympus"),
                                                   headers: admin.headers)
            #expect(res.status == .unprocessableEntity)
            let html = res.html
            #expect(html.contains("<html lang=\"ar\" dir=\"rtl\">"))
            #expect(html.contains("data-testid=\"form-errors\""))
            #expect(html.contains("role=\"alert\""))
            #expect(html.contains(Strings.text("errors_summary", .ar)))
            #expect(html.contains("<a href=\"#qh-start\">\(Strings.text("quiet_hours_start", .ar)): \(Strings.text("error_time", .ar))</a>"))
            #expect(html.contains("<a href=\"#qh-day-sun\">\(Strings.text("quiet_hours_days", .ar)): \(Strings.text("error_days_none", .ar))</a>"))
            #expect(html.contains("<a href=\"#qh-timezone\">\(Strings.text("quiet_hours_timezone", .ar)): \(Strings.text("error_timezone", .ar))</a>"))
            #expect(!html.contains("href=\"#qh-end\""))
            // Next to each field, tied to it by aria-describedby, the field marked invalid.
            #expect(html.contains("aria-describedby=\"qh-time-hint qh-start-error\" aria-invalid=\"true\""))
            #expect(html.contains("id=\"qh-start-error\" data-field=\"start\""))
            #expect(html.contains("<fieldset class=\"field\" aria-describedby=\"qh-days-hint qh-days-error\">"))
            #expect(html.contains("id=\"qh-days-error\" data-field=\"days\""))
            #expect(html.contains("value=\"Mars/Olympus\""))
            #expect(html.contains("aria-describedby=\"qh-timezone-hint qh-timezone-error\" aria-invalid=\"true\""))
            #expect(html.contains("id=\"qh-enabled\" name=\"enabled\" value=\"true\" checked>"))
            #expect(!html.contains(" checked> <label for=\"qh-day-"))
            // The summary above still shows what is saved.
            #expect(html.contains("data-testid=\"quiet-hours-summary\" data-enabled=\"off\""))
            #expect(try await Self.stored(app)["enabled"] as? Bool == false)

            // In English, and the end equal to the start.
            let english = try await app.postFormFields("/settings/delivery?lang=en", Self.form(admin, start: "21:00", end: "21:00", days: ["sun"]),
                                                       headers: admin.headers)
            #expect(english.status == .unprocessableEntity)
            #expect(english.html.contains("<html lang=\"en\" dir=\"ltr\">"))
            #expect(english.html.contains("Nothing was saved. Please correct the following:"))
            #expect(english.html.contains("<a href=\"#qh-end\">End: The end must differ from the start.</a>"))
            #expect(english.html.contains("id=\"qh-end-error\" data-field=\"end\"><span aria-hidden=\"true\">!</span> The end must differ from the start.</p>"))
            #expect(english.html.contains("id=\"qh-day-sun\" name=\"days\" value=\"sun\" checked>"))
            #expect(english.html.contains("id=\"qh-day-mon\" name=\"days\" value=\"mon\">"))
            // The language link of the re-shown form leads to the General tab.
            #expect(english.html.contains("href=\"/settings?lang=ar\""))

            // A day the form never offers, and a time the time input never sends.
            let odd = try await app.postFormFields("/settings/delivery?lang=en", Self.form(admin, end: "8:00", days: ["funday"]),
                                                   headers: admin.headers)
            #expect(odd.status == .unprocessableEntity)
            #expect(odd.html.contains("<a href=\"#qh-day-sun\">Days: An unknown day was sent.</a>"))
            #expect(odd.html.contains("<a href=\"#qh-end\">End: Enter a time on the 24-hour clock, like 21:00.</a>"))
            #expect(try await Self.stored(app)["enabled"] as? Bool == false)
        }
    }

    @Test("only admins change quiet hours: viewers, staff and managers get the 403 page; no CSRF token is 403; signed out goes to sign-in; nothing changes")
    func adminsOnly() async throws {
        try await withMoeenApp { app in
            for role in [UserRole.viewer, .staff, .manager] {
                let browser = try await app.browserSession(role: role)
                let res = try await app.postFormFields("/settings/delivery", Self.form(browser), headers: browser.headers)
                #expect(res.status == .forbidden, "\(role)")
                #expect(res.html.contains("data-testid=\"error-page\""), "\(role)")
                #expect(res.html.contains(Strings.text("forbidden_title", .ar)), "\(role)")
            }
            let admin = try await app.browserSession(role: .admin)
            let noToken = try await app.postFormFields("/settings/delivery", Array(Self.form(admin).dropFirst()), headers: admin.headers)
            #expect(noToken.status == .forbidden)
            #expect(noToken.html.contains(Strings.text("csrf_title", .ar)))
            let other = try await app.browserSession(role: .admin)
            let wrongToken = try await app.postFormFields("/settings/delivery", Self.form(other), headers: admin.headers)
            #expect(wrongToken.status == .forbidden)
            let signedOut = try await app.postFormFields("/settings/delivery", Array(Self.form(admin).dropFirst()))
            #expect(signedOut.status == .seeOther)
            #expect(signedOut.location == "/login")
            #expect(try await Self.stored(app)["enabled"] as? Bool == false)
        }
    }

    @Test("every day, state and error of the section has both languages")
    func strings() {
        for day in QuietHoursSection.dayOrder { #expect(Strings.table["day_\(day)"] != nil, "\(day)") }
        #expect(Set(QuietHoursSection.dayOrder) == Set(QuietHours.dayNames))
        for key in ["quiet_hours_on", "quiet_hours_off", "error_time", "error_end_same", "error_days_none", "error_day_unknown",
                    "error_timezone", "quiet_hours_saved", "errors_summary"] {
            #expect(Strings.table[key] != nil, "\(key)")
        }
    }
}
