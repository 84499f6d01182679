import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

/// `credentials_expire_at` (issue 12): written and read through the API, validated, audited, and marked when
/// Google's token endpoint answers `invalid_grant` or WhatsApp answers code 190 — from a test connection and
/// from the dispatcher, against the stand-ins.
@Suite("Credential expiry")
struct CredentialExpiryTests {
    static func row(_ app: Application, _ publicID: String) async throws -> IntegrationConfig {
        try await IntegrationConfig.find(idOrPublicID: publicID, on: app.db)
    }

    static func expiryAudits(_ app: Application, _ row: IntegrationConfig) async throws -> [AuditLog] {
        let id = try row.requireID().uuidString
        return try await AuditLog.query(on: app.db)
            .filter(\.$tableName == IntegrationConfig.schema).filter(\.$recordID == id).filter(\.$action == "UPDATE")
            .all()
    }

    @Test("the API writes, normalises to UTC, keeps and clears credentials_expire_at; each change is audited")
    func roundTrip() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            let created = try await app.call(.POST, "api/integrations", auth: admin, body: [
                "integration_type": "slack", "name": "Ops channel", "credentials_expire_at": "2026-12-31T00:00:00Z",
            ])
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json["credentials_expire_at"] as? String == "2026-12-31T00:00:00Z")
            let id = try #require(created.json["public_id"] as? String)

            let shown = try await app.call(.GET, "api/integrations/\(id)", auth: admin)
            #expect(shown.json["credentials_expire_at"] as? String == "2026-12-31T00:00:00Z")

            let moved = try await app.call(.PATCH, "api/integrations/\(id)", auth: admin,
                                           body: ["credentials_expire_at": "2027-01-15T12:30:00+03:00"])
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.json["credentials_expire_at"] as? String == "2027-01-15T09:30:00Z")

            // A change that does not name the field keeps it.
            let renamed = try await app.call(.PATCH, "api/integrations/\(id)", auth: admin, body: ["name": "Ops alerts"])
            #expect(renamed.json["credentials_expire_at"] as? String == "2027-01-15T09:30:00Z")

            let cleared = try await app.call(.PATCH, "api/integrations/\(id)", auth: admin, body: ["credentials_expire_at": .null])
            #expect(cleared.status == .ok)
            #expect(cleared.json.keys.contains("credentials_expire_at"))
            #expect(cleared.json["credentials_expire_at"] is NSNull)

            let listed = try await app.call(.GET, "api/integrations", auth: admin)
            let first = try #require((listed.json["data"] as? [[String: Any]])?.first)
            #expect(first.keys.contains("credentials_expire_at"))

            let audits = try await Self.expiryAudits(app, try await Self.row(app, id))
            let values = audits.compactMap { $0.newValues?["credentials_expire_at"] }
            #expect(values.contains(.string("2027-01-15T09:30:00Z")))
            #expect(values.contains(.null))
            let moves = audits.filter {
                $0.oldValues?["credentials_expire_at"] == .string("2026-12-31T00:00:00Z")
                    && $0.newValues?["credentials_expire_at"] == .string("2027-01-15T09:30:00Z")
            }
            #expect(moves.count == 1)
        }
    }

    @Test("a timestamp that is not RFC 3339 is 422 naming credentials_expire_at, and nothing is written")
    func validation() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            let refused = try await app.call(.POST, "api/integrations", auth: admin, body: [
                "integration_type": "slack", "name": "Refused", "credentials_expire_at": "next tuesday",
            ])
            #expect(refused.status == .unprocessableEntity)
            #expect((refused.json["error"] as? [String: Any])?["fields"] as? [String: String] != nil)
            let fields = ((refused.json["error"] as? [String: Any])?["fields"] as? [String: String]) ?? [:]
            #expect(fields["credentials_expire_at"] != nil, "\(refused.text)")
            #expect(try await IntegrationConfig.query(on: app.db).filter(\.$name == "Refused").count() == 0)

            let created = try await app.call(.POST, "api/integrations", auth: admin, body: ["integration_type": "slack", "name": "Kept"])
            let id = try #require(created.json["public_id"] as? String)
            for bad: JSONValue in [12, "2026-13-01T00:00:00Z", "2026-12-31", true] {
                let answer = try await app.call(.PATCH, "api/integrations/\(id)", auth: admin,
                                                body: ["name": "Changed", "credentials_expire_at": bad])
                #expect(answer.status == .unprocessableEntity, "\(bad): \(answer.text)")
                let problems = ((answer.json["error"] as? [String: Any])?["fields"] as? [String: String]) ?? [:]
                #expect(problems.keys.sorted() == ["credentials_expire_at"], "\(answer.text)")
            }
            let row = try await Self.row(app, id)
            #expect(row.name == "Kept")
            #expect(row.credentialsExpireAt == nil)

            let viewer = try await app.bearer(role: .viewer)
            let forbidden = try await app.call(.PATCH, "api/integrations/\(id)", auth: viewer,
                                               body: ["credentials_expire_at": "2026-12-31T00:00:00Z"])
            #expect(forbidden.status == .forbidden)
        }
    }

    @Test("a WhatsApp test connection answered 190 'Session has expired' marks the credentials expired when seen; a wrong token does not; an earlier expiry is kept; unsaved settings mark nothing")
    func whatsAppTestMarks() async throws {
        try await withStandIn(.whatsapp) { standIn, settings in
            try await withMoeenApp { app in
                let admin = try await app.bearer(role: .admin)
                let id = try await TestConnectionTests.create(app, auth: admin, type: .whatsapp, settings: settings)

                // Unsaved wrong settings: the stored credentials are not the ones refused.
                let unsaved = try await app.call(.POST, "api/integrations/test", auth: admin, body: [
                    "integration_config_id": .string(id), "integration_type": "whatsapp", "config": ["access_token": "not-the-stored-one"],
                ])
                #expect(unsaved.json["status"] as? String == "failed")
                #expect(try await Self.row(app, id).credentialsExpireAt == nil)

                // A wrong token (190 "Invalid OAuth access token") is a bad credential, not an expired one.
                let whatsApp = try #require(standIn as? WhatsAppStandIn)
                await whatsApp.state.update { $0.accessToken = "rotated-at-meta" }
                let wrong = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                #expect(wrong.json["status"] as? String == "failed")
                #expect(try await Self.row(app, id).credentialsExpireAt == nil)

                // A later expiry entered by an admin is replaced by the time the expiry was seen.
                _ = try await app.call(.PATCH, "api/integrations/\(id)", auth: admin, body: ["credentials_expire_at": "2030-01-01T00:00:00Z"])
                await whatsApp.state.update { $0.accessToken = settings["access_token"] ?? ""; $0.tokenExpired = true }
                let before = Date().addingTimeInterval(-1)
                let failed = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                let after = Date().addingTimeInterval(1)
                #expect(failed.json["status"] as? String == "failed")
                #expect((failed.json["details"] as? [String: Any])?["provider_error_code"] as? Int == 190, "\(failed.text)")
                let marked = try #require(try await Self.row(app, id).credentialsExpireAt)
                #expect(marked >= before && marked <= after, "\(marked)")

                // Seen again later: the first sighting stays.
                _ = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                let again = try #require(try await Self.row(app, id).credentialsExpireAt)
                #expect(abs(again.timeIntervalSince(marked)) < 0.001)

                let shown = try await app.call(.GET, "api/integrations/\(id)", auth: admin)
                #expect(shown.json["credentials_expire_at"] is String)
                let audits = try await Self.expiryAudits(app, try await Self.row(app, id))
                #expect(audits.filter { $0.$user.id == nil && $0.newValues?["reason"] == .string("provider error 190") }.count == 1)
            }
        }
    }

    @Test("a Google Calendar test connection answered invalid_grant by the token endpoint marks the credentials expired")
    func googleTestMarks() async throws {
        try await withStandIn(.googleCalendar) { standIn, settings in
            try await withMoeenApp { app in
                let admin = try await app.bearer(role: .admin)
                let id = try await TestConnectionTests.create(app, auth: admin, type: .googleCalendar, settings: settings)
                let good = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                #expect(good.json["status"] as? String == "success", "\(good.text)")
                #expect(try await Self.row(app, id).credentialsExpireAt == nil)

                let google = try #require(standIn as? GoogleCalendarStandIn)
                await google.state.update { $0.refreshToken = "revoked-by-the-user" }
                await google.state.revokeAccessTokens()
                let before = Date().addingTimeInterval(-1)
                let failed = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                #expect(failed.json["status"] as? String == "failed", "\(failed.text)")
                #expect((failed.json["details"] as? [String: Any])?["provider_error_code"] as? String == "invalid_grant", "\(failed.text)")
                let marked = try #require(try await Self.row(app, id).credentialsExpireAt)
                #expect(marked >= before && marked <= Date().addingTimeInterval(1))
            }
        }
    }

    @Test("the dispatcher marks WhatsApp credentials expired at its clock's time on an expired token (190/463), and not on other errors")
    func dispatcherMarks() async throws {
        try await withStandIn(.whatsapp) { standIn, settings in
            try await withMoeenApp(customize: { $0.delivery = .fastTests }) { app in
                let admin = try await app.bearer(role: .admin)
                let id = try await TestConnectionTests.create(app, auth: admin, type: .whatsapp, settings: settings)
                let whatsApp = try #require(standIn as? WhatsAppStandIn)
                let clock = ManualClock()
                let dispatcher = app.testDispatcher(clock: clock)

                // Undeliverable (131026): a permanent error that says nothing about the credentials.
                await whatsApp.state.update { $0.undeliverable = ["966501234567"] }
                let first = try await app.sendMessage(["channel": "whatsapp", "to": "+966501234567", "text": "Reminder",
                                                       "integration_config_id": .string(id)], auth: admin)
                #expect(first.status == .accepted, "\(first.text)")
                #expect(try await dispatcher.drainOnce() == 1)
                #expect(try await Self.row(app, id).credentialsExpireAt == nil)

                await whatsApp.state.update { $0.tokenExpired = true }
                let second = try await app.sendMessage(["channel": "whatsapp", "to": "+966501234568", "text": "Reminder",
                                                        "integration_config_id": .string(id)], auth: admin)
                let messageID = try #require(second.json["public_id"] as? String)
                #expect(try await dispatcher.drainOnce() == 1)
                let message = try await app.message(messageID)
                #expect(message.status == "failed")
                #expect(message.lastErrorCode == "190")
                let marked = try #require(try await Self.row(app, id).credentialsExpireAt)
                #expect(abs(marked.timeIntervalSince(clock.now)) < 0.001, "\(marked) vs \(clock.now)")
            }
        }
    }

    @Test("the integration form sets and clears the date (errors next to the field); the Integrations tab marks upcoming expiries and sums them up")
    func adminPages() async throws {
        try await withMoeenApp { app in
            let admin = try await app.browserSession(role: .admin)
            let id = try await app.integrationID("whatsapp")
            let row = try await Self.row(app, id)
            let form = ["name": row.name, "description": ""]
            var bad = form
            bad["credentials_expire_at"] = "31/12/2026"
            let (headers, badBody) = admin.form(bad)
            let refused = try await app.postForm("/settings/integrations/\(id)/save?lang=en", badBody, headers: headers)
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.html.contains("id=\"field-credentials-expire-at-error\""))
            #expect(refused.html.contains(Strings.text("error_credentials_expire_at", .en)))
            #expect(refused.html.contains("value=\"31/12/2026\""))
            #expect(try await Self.row(app, id).credentialsExpireAt == nil)

            let soon = Date().addingTimeInterval(5 * 86_400)
            var good = form
            good["credentials_expire_at"] = CredentialExpiry.formValue(soon)
            let (_, goodBody) = admin.form(good)
            let saved = try await app.postForm("/settings/integrations/\(id)/save", goodBody, headers: headers)
            #expect(saved.status == .seeOther, "\(saved.html)")
            let stored = try #require(try await Self.row(app, id).credentialsExpireAt)
            #expect(CredentialExpiry.formValue(stored) == CredentialExpiry.formValue(soon))

            let list = try await app.page("/settings/integrations?lang=en", headers: admin.headers)
            #expect(list.html.contains("data-testid=\"upcoming-expiries\""))
            #expect(list.html.contains("data-testid=\"credentials-expiry\""))
            #expect(list.html.contains("Credentials expire in"))
            let page = try await app.page("/settings/integrations/\(id)?lang=en", headers: admin.headers)
            #expect(page.html.contains("value=\"\(CredentialExpiry.formValue(soon))\""))

            var cleared = form
            cleared["credentials_expire_at"] = ""
            let (_, clearedBody) = admin.form(cleared)
            _ = try await app.postForm("/settings/integrations/\(id)/save", clearedBody, headers: headers)
            #expect(try await Self.row(app, id).credentialsExpireAt == nil)
            let after = try await app.page("/settings/integrations", headers: admin.headers)
            #expect(!after.html.contains("data-testid=\"upcoming-expiries\""))
        }
    }

    @Test("days left count UTC calendar days; the Integrations tab shows expiries within 30 days and past ones")
    func upcoming() {
        let now = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15T08:00:00Z
        #expect(CredentialExpiry.daysLeft(until: now.addingTimeInterval(3600), now: now) == 0)
        #expect(CredentialExpiry.daysLeft(until: now.addingTimeInterval(86_400 * 14), now: now) == 14)
        #expect(CredentialExpiry.daysLeft(until: now.addingTimeInterval(-86_400), now: now) == -1)
        #expect(CredentialExpiry.isUpcoming(now.addingTimeInterval(86_400 * 30), now: now))
        #expect(!CredentialExpiry.isUpcoming(now.addingTimeInterval(86_400 * 31), now: now))
        #expect(CredentialExpiry.isUpcoming(now.addingTimeInterval(-86_400 * 400), now: now))
        #expect(!CredentialExpiry.isUpcoming(nil, now: now))
        #expect(CredentialExpiry.change(form: "2027-02-01") == .set(Date(timeIntervalSince1970: 1_801_440_000)))
        #expect(CredentialExpiry.change(form: "", stored: now) == .clear)
        #expect(CredentialExpiry.change(form: "") == nil)
        #expect(CredentialExpiry.change(form: "2027-01-15", stored: now) == nil)
        #expect(CredentialExpiry.change(form: nil) == nil)
        #expect(CredentialExpiry.change(form: "2027-02-30") == .invalid(CredentialExpiry.problem))
        #expect(CredentialExpiry.formValue(Date(timeIntervalSince1970: 1_801_440_000)) == "2027-02-01")
    }
}
