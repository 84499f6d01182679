import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import MoeenSecrets
import ProviderStandIns
import Testing
import Vapor
import VaporTesting

/// The way back from a lost or wrong master key: re-entering every secret replaces the row's data key.
@Suite("Recovering secrets sealed under a lost key")
struct KeyRecoveryTests {
    static let otherKey: @Sendable (inout MoeenConfiguration) -> Void = { $0.environment["MOEEN_MASTER_KEY"] = TestKeys.otherMasterKey }

    /// Creates an enabled WhatsApp integration against the stand-in under the default test key.
    static func createUnderKeyA(_ database: MoeenConfiguration.DatabaseTarget, settings: [String: String]) async throws -> (auth: String, id: String) {
        try await withMoeenApp(database: database) { app in
            let auth = try await app.bearer(role: .admin)
            let created = try await app.call(.POST, "api/integrations", auth: auth, body: [
                "integration_type": "whatsapp", "name": "WhatsApp under key A", "is_enabled": true,
                "config": .object(settings.mapValues(JSONValue.string)),
            ])
            #expect(created.status == .created, "\(created.text)")
            return (auth, try #require(created.json["public_id"] as? String))
        }
    }

    @Test("with key B, a PATCH re-entering every secret replaces the data key and test connection succeeds; a PATCH with some of them is a 409 naming the rest")
    func patchRecovers() async throws {
        try await withEmptyDatabase { database in
            try await withStandIn(.whatsapp) { _, settings in
                let (auth, id) = try await Self.createUnderKeyA(database.target, settings: settings)
                try await withMoeenApp(database: database.target, customize: Self.otherKey) { app in
                    let before = try #require(try await IntegrationDataKey.query(on: app.db).first())

                    // Only one of the three stored secrets: refused, naming the two still missing.
                    let partial = try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: [
                        "config": ["access_token": .string(settings["access_token"] ?? "")],
                    ])
                    #expect(partial.status == .conflict, "\(partial.text)")
                    let error = try #require(partial.json["error"] as? [String: Any])
                    #expect(error["code"] as? String == "secret_decryption_failed")
                    let fields = try #require(error["fields"] as? [String: String])
                    #expect(Set(fields.keys) == ["config.app_secret", "config.webhook_verify_token"])
                    let message = error["message"] as? String ?? ""
                    #expect(message.contains(id))
                    #expect(message.contains("missing: app_secret, webhook_verify_token"), "\(message)")
                    #expect(message.contains("local:"), "names the keys: \(message)")
                    #expect(!message.contains(settings["access_token"] ?? "-"))
                    #expect(try await IntegrationDataKey.query(on: app.db).first()?.wrappedKey == before.wrappedKey, "nothing written")

                    // Every secret again: a new data key under key B; the old one is gone.
                    var secrets: [String: JSONValue] = [:]
                    for name in ["access_token", "webhook_verify_token", "app_secret"] { secrets[name] = .string(settings[name] ?? "") }
                    let full = try await app.call(.PATCH, "api/integrations/\(id)", auth: auth, body: ["config": .object(secrets)])
                    #expect(full.status == .ok, "\(full.text)")
                    let keys = try await IntegrationDataKey.query(on: app.db).all()
                    #expect(keys.count == 1)
                    #expect(keys.first?.keyID != before.keyID)
                    #expect(keys.first?.keyID == (try await app.integrationSecrets.engine.currentKey()).keyID)

                    let test = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                    #expect(test.status == .ok, "\(test.text)")
                    #expect(test.json["status"] as? String == "success", "\(test.text)")
                    let service = KeyRotationService(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
                    #expect(try await service.unreadableRows().isEmpty)
                }
                // Key B is now the key of this row: it opens after a restart too.
                try await withMoeenApp(database: database.target, customize: Self.otherKey) { app in
                    let test = try await app.call(.POST, "api/integrations/\(id)/test", auth: auth)
                    #expect(test.json["status"] as? String == "success", "\(test.text)")
                }
            }
        }
    }

    @Test("keys status lists the rows no configured key can open, with public id, name and key id")
    func statusListsUnreadableRows() async throws {
        try await withEmptyDatabase { database in
            try await withStandIn(.whatsapp) { _, settings in
                let (_, id) = try await Self.createUnderKeyA(database.target, settings: settings)
                try await withMoeenApp(database: database.target, customize: Self.otherKey) { app in
                    let service = KeyRotationService(db: app.db, secrets: try app.integrationSecrets, logger: app.logger)
                    let unreadable = try await service.unreadableRows()
                    #expect(unreadable.map(\.publicID) == [id])
                    #expect(unreadable.first?.name == "WhatsApp under key A")
                    let stored = try #require(try await IntegrationDataKey.query(on: app.db).first())
                    #expect(unreadable.first?.key == "\(stored.keyID) v\(stored.keyVersion)")
                    #expect(unreadable.first?.reason.contains("master key is wrong") == true)
                    // A rotation skips the row (it cannot be re-wrapped) instead of failing on it for ever.
                    let report = try await service.rotate(reencrypt: false)
                    #expect(report.run.status == "completed")
                    #expect(report.skipped.map(\.publicID) == [id])
                }
            }
        }
    }

    @Test("the admin page of a row whose secrets cannot be decrypted says why and asks for all secrets; a partial save asks for the rest; a full save recovers", arguments: [Language.en, .ar])
    func adminPageRecovers(language: Language) async throws {
        try await withEmptyDatabase { database in
            try await withStandIn(.whatsapp) { _, settings in
                let (_, id) = try await Self.createUnderKeyA(database.target, settings: settings)
                try await withMoeenApp(database: database.target, customize: Self.otherKey) { app in
                    let admin = try await app.browserSession(role: .admin)
                    let lang = "?lang=\(language.rawValue)"
                    let page = try await app.page("/settings/integrations/\(id)\(lang)", headers: admin.headers)
                    #expect(page.status == .ok)
                    let html = page.html
                    #expect(html.contains("data-testid=\"secrets-problem\" data-kind=\"unreadable\""))
                    #expect(html.contains(Strings.text("secrets_unreadable_title", language)))
                    #expect(html.contains(Strings.text("secrets_unreadable_body", language).replacingOccurrences(of: "'", with: "&#39;")))
                    #expect(html.contains("master key is wrong"), "the technical reason is shown")
                    #expect(html.contains("role=\"alert\""))
                    for field in ["access_token", "webhook_verify_token", "app_secret"] {
                        let input = try #require(Self.tag(in: html, id: "field-\(field)"))
                        #expect(input.contains(" required"), "\(field) must be entered again: \(input)")
                        #expect(input.contains("aria-describedby=\"field-\(field)-hint"))
                        #expect(html.contains("<label for=\"field-\(field)\">"))
                    }
                    #expect(!html.contains(Strings.text("secret_keep_hint", language)), "no 'leave empty to keep' for secrets that cannot be kept")
                    #expect(html.contains(Strings.text("secret_reenter_hint", language)))
                    #expect(!html.contains(settings["access_token"] ?? "-"))

                    // A save with one secret re-entered: the page again (not an error page), marking the two missing.
                    let path = "/settings/integrations/\(id)/save\(lang)"
                    var form = ["name": "WhatsApp under key A", "config.access_token": settings["access_token"] ?? ""]
                    let (headers, body) = admin.form(form)
                    let partial = try await app.postForm(path, body, headers: headers)
                    #expect(partial.status == .conflict)
                    #expect(partial.html.contains("data-testid=\"integration-form\""))
                    #expect(partial.html.contains(Strings.text("secrets_reenter_all", language)))
                    for field in ["webhook_verify_token", "app_secret"] {
                        #expect(partial.html.contains("data-field=\"config.\(field)\""), "\(field) is marked")
                        #expect(Self.tag(in: partial.html, id: "field-\(field)")?.contains("aria-invalid=\"true\"") == true)
                    }
                    #expect(partial.html.contains(Strings.text("secret_reenter_required", language)))
                    #expect(!partial.html.contains(Strings.text("error_title", language)))

                    // All of them: saved under a new data key, and the provider accepts the connection.
                    for field in ["webhook_verify_token", "app_secret"] { form["config.\(field)"] = settings[field] ?? "" }
                    let (fullHeaders, fullBody) = admin.form(form)
                    let saved = try await app.postForm(path, fullBody, headers: fullHeaders)
                    #expect(saved.status == .seeOther, "\(saved.html)")
                    let after = try await app.page("/settings/integrations/\(id)\(lang)", headers: admin.headers)
                    #expect(!after.html.contains("data-testid=\"secrets-problem\""))
                    let (testHeaders, testBody) = admin.form([:])
                    let tested = try await app.postForm("/settings/integrations/\(id)/test", testBody, headers: testHeaders)
                    #expect(tested.status == .seeOther)
                    let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
                    #expect(row.lastTestStatus == "success", "\(row.lastTestMessage ?? "")")
                }
            }
        }
    }

    @Test("testing from the admin page a row whose secrets cannot be decrypted shows the reason on the page, not an error page")
    func adminTestShowsReason() async throws {
        try await withEmptyDatabase { database in
            try await withStandIn(.whatsapp) { _, settings in
                let (_, id) = try await Self.createUnderKeyA(database.target, settings: settings)
                try await withMoeenApp(database: database.target, customize: Self.otherKey) { app in
                    let admin = try await app.browserSession(role: .admin)
                    let (headers, body) = admin.form([:])
                    let tested = try await app.postForm("/settings/integrations/\(id)/test?lang=en", body, headers: headers)
                    #expect(tested.html.contains("data-testid=\"test-error\""))
                    #expect(tested.html.contains("master key is wrong"))
                    #expect(tested.html.contains("data-testid=\"secrets-problem\""))
                }
            }
        }
    }

    /// The opening tag of the element with `id`.
    static func tag(in html: String, id: String) -> String? {
        guard let range = html.range(of: "id=\"\(id)\"") else { return nil }
        let start = html[..<range.lowerBound].lastIndex(of: "<") ?? range.lowerBound
        let end = html[range.upperBound...].firstIndex(of: ">") ?? html.endIndex
        return String(html[start..<end])
    }
}
