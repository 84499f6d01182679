import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor
import VaporTesting

/// Hardening item 1: a stored credential never follows a URL sent with a test request; item 2: a test of
/// unsaved settings never moves the stored row's status, health or history.
@Suite("Stored credentials and changed URLs")
struct CredentialBindingTests {
    /// Everything a stand-in received, as one text to search for a leaked secret.
    static func received(by standIn: any ProviderStandIn) async -> String {
        await standIn.recorder.requests.map { request in
            ([request.method, request.path, request.query ?? "", request.body]
                + request.headers.map { "\($0.name): \($0.value)" }).joined(separator: "\n")
        }.joined(separator: "\n---\n")
    }

    /// The working settings of `standIn` with each secret replaced by a unique value, so a leak can be told apart.
    static func storedSettings(_ type: IntegrationType, working: [String: String]) -> [String: String] {
        var settings = working
        let unique = UUID().uuidString.prefix(12).lowercased()
        for field in IntegrationCatalog.secretFieldNames(for: type) where settings[field] != nil {
            if field == "webhook_url", let hook = settings[field], let range = hook.range(of: "/services/") {
                // Slack's hook URL is itself the secret: keep the stand-in's host, make the path this row's own.
                settings[field] = hook[..<range.upperBound] + "TSTORED/BSTORED/stored\(unique)"
            } else {
                settings[field] = "stored-\(field)-\(unique)"
            }
        }
        return settings
    }

    @Test("a changed URL with the stored secrets answers 422 naming each secret and calls no one; with its own secrets it runs, and the other host never sees a stored one",
          arguments: IntegrationType.allCases)
    func storedSecretsStayHome(type: IntegrationType) async throws {
        try await withStandIn(type) { home, homeSettings in
            try await withStandIn(type) { elsewhere, elsewhereSettings in
                try await withMoeenApp { app in
                    let admin = try await app.bearer(role: .admin)
                    let manager = try await app.bearer(role: .manager)
                    let stored = Self.storedSettings(type, working: homeSettings)
                    let id = try await TestConnectionTests.create(app, auth: admin, type: type, settings: stored)
                    let storedSecrets = IntegrationCatalog.secretFieldNames(for: type).compactMap { stored[$0] }
                    let boundFields = IntegrationTester.credentialBoundFields(for: type)

                    // Every setting that decides where credentials go, pointed elsewhere, one at a time.
                    for field in boundFields {
                        let isURL = IntegrationCatalog.fields(for: type).first { $0.name == field }?.kind == .url
                        let other = isURL ? (elsewhereSettings[field] ?? "") : "someone-else-\(field)"
                        let redirected = try await app.call(.POST, "api/integrations/test", auth: manager, body: [
                            "integration_config_id": .string(id), "integration_type": .string(type.rawValue),
                            "config": [field: .string(other)],
                        ])
                        #expect(redirected.status == .unprocessableEntity, "\(type) \(field): \(redirected.text)")
                        let fields = try #require(try errorFieldsOf(redirected.json))
                        for secret in IntegrationCatalog.secretFieldNames(for: type) where stored[secret] != nil {
                            #expect(fields["config.\(secret)"] != nil, "\(type) \(field): \(secret) not named in \(redirected.text)")
                        }
                    }
                    #expect(await elsewhere.recorder.count == 0, "\(type): a refused test reached the other host")

                    // With every setting and secret of its own, the test runs against the other host.
                    let own = try await app.call(.POST, "api/integrations/test", auth: manager, body: [
                        "integration_config_id": .string(id), "integration_type": .string(type.rawValue),
                        "config": .object(elsewhereSettings.mapValues(JSONValue.string)),
                    ])
                    #expect(own.status == .ok, "\(type): \(own.text)")
                    #expect(own.json["status"] as? String == "success", "\(type): \(own.text)")
                    #expect(await elsewhere.recorder.count > 0)
                    let seen = await Self.received(by: elsewhere)
                    for secret in storedSecrets {
                        #expect(!seen.contains(secret), "\(type): a stored secret reached the other host")
                    }
                    if type == .slack, let homeHook = stored["webhook_url"], let path = URL(string: homeHook)?.path {
                        #expect(!seen.contains(path), "slack: the stored webhook path reached the other host")
                    }
                    // That test was of unsaved settings: logged with its marker, the row untouched.
                    let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
                    #expect(row.lastTestAt == nil)
                    let logs = try await IntegrationTestLog.query(on: app.db).filter(\.$integration.$id == row.requireID()).all()
                    #expect(logs.count == 1)
                    #expect(logs.first?.configSource == "unsaved")
                    #expect(logs.first?.requestData?["config_source"] == "unsaved")
                }
            }
        }
    }

    @Test("Google: the client id binds the stored client secret and refresh token; a cached token is never sent to another API URL")
    func googleClientAndTokenCache() async throws {
        try await withStandIn(.googleCalendar) { home, settings in
            try await withStandIn(.googleCalendar) { elsewhere, elsewhereSettings in
                try await withMoeenApp { app in
                    let admin = try await app.bearer(role: .admin)
                    let id = try await TestConnectionTests.create(app, auth: admin, type: .googleCalendar, settings: settings)
                    let good = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                    #expect(good.json["status"] as? String == "success", "\(good.text)")
                    let tokenRequests = await home.recorder.requests(pathSuffix: "/token").count
                    #expect(tokenRequests == 1)
                    // The access token now cached for the stored settings.
                    let storedTokens = await (home as? GoogleCalendarStandIn)?.state.validTokens ?? []
                    #expect(storedTokens.count == 1)

                    let otherClient = try await app.call(.POST, "api/integrations/test", auth: admin, body: [
                        "integration_config_id": .string(id), "integration_type": "google_calendar",
                        "config": ["client_id": "someone-else.apps.example.org"],
                    ])
                    #expect(otherClient.status == .unprocessableEntity, "\(otherClient.text)")
                    let fields = try #require(try errorFieldsOf(otherClient.json))
                    #expect(fields["config.client_secret"] != nil && fields["config.refresh_token"] != nil)

                    // Another API URL with the same credentials sent along: a token is fetched for it, not reused.
                    let otherAPI = try await app.call(.POST, "api/integrations/test", auth: admin, body: [
                        "integration_config_id": .string(id), "integration_type": "google_calendar",
                        "config": [
                            "api_url": .string(elsewhereSettings["api_url"] ?? ""),
                            "client_secret": .string(settings["client_secret"] ?? ""),
                            "refresh_token": .string(settings["refresh_token"] ?? ""),
                        ],
                    ])
                    // The other host does not know the home host's tokens, so the test fails; what matters is
                    // which token it was shown: a fresh one, never the one cached for the stored settings.
                    #expect(otherAPI.json["status"] as? String == "failed", "\(otherAPI.text)")
                    #expect(await home.recorder.requests(pathSuffix: "/token").count >= 2, "no token was fetched for the other API URL")
                    let shown = await elsewhere.recorder.requests.compactMap { $0.header("Authorization") }
                    #expect(!shown.isEmpty)
                    for token in storedTokens {
                        #expect(!shown.contains { $0.contains(token) }, "the token cached for the stored API URL reached another one")
                    }
                }
            }
        }
    }

    @Test("a failed test of unsaved settings leaves the stored row's status, score and history as they were")
    func unsavedTestsDoNotMoveHealth() async throws {
        try await withStandIn(.whatsapp) { _, settings in
            try await withMoeenApp { app in
                let admin = try await app.bearer(role: .admin)
                let id = try await TestConnectionTests.create(app, auth: admin, type: .whatsapp, settings: settings)
                let first = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                let score = try #require(first.json["health_score"] as? Int)
                // 100 for a quick success; a slow machine may cost up to 10 points of latency penalty, never more.
                #expect(score >= 90, "\(first.text)")

                let unsaved = try await app.call(.POST, "api/integrations/test", auth: admin, body: [
                    "integration_config_id": .string(id), "integration_type": "whatsapp",
                    "config": ["access_token": "wrong-token-for-this-test"],
                ])
                #expect(unsaved.json["status"] as? String == "failed", "\(unsaved.text)")
                #expect(unsaved.json["health_score"] as? Int == score)
                let between = try await app.call(.GET, "api/integrations/\(id)", auth: admin)
                #expect(between.json["status"] as? String == "active")
                #expect(between.json["last_test_status"] as? String == "success")

                let second = try await app.call(.POST, "api/integrations/\(id)/test", auth: admin)
                // Two successes: at least 90 whatever the latency; a counted failure would pull it near 66.
                #expect((second.json["health_score"] as? Int ?? 0) >= 90, "an unsaved failure counted: \(second.text)")
                let health = try await app.call(.GET, "api/integrations/\(id)/health", auth: admin)
                #expect((health.json["history"] as? [Any])?.count == 2)

                let logs = try await app.call(.GET, "api/integrations/\(id)/logs", auth: admin)
                let rows = try #require(logs.json["data"] as? [[String: Any]])
                #expect(rows.count == 3)
                let sources = rows.map { (($0["request_data"] as? [String: Any])?["config_source"] as? String) ?? "?" }
                #expect(sources == ["stored", "unsaved", "stored"])

                // The stored settings sent back as they are (secret as its hint) are the stored settings.
                let hint = try #require(((between.json["config"] as? [String: Any])?["access_token"] as? [String: Any])?["hint"] as? String)
                let same = try await app.call(.POST, "api/integrations/test", auth: admin, body: [
                    "integration_config_id": .string(id), "integration_type": "whatsapp",
                    "config": ["access_token": .string(hint), "phone_number_id": .string(settings["phone_number_id"] ?? "")],
                ])
                #expect(same.json["status"] as? String == "success", "\(same.text)")
                let after = try await IntegrationTestLog.query(on: app.db).sort(\.$createdAt, .descending).first()
                #expect(after?.configSource == "stored")
            }
        }
    }

    @Test("a row left `testing` by a dead process is settled at start; a recent one is left alone")
    func stuckTestingIsSettled() async throws {
        try await withMoeenApp { app in
            let row = try #require(try await IntegrationConfig.query(on: app.db).first())
            row.status = "testing"
            row.isEnabled = true
            row.lastTestStatus = "failed"
            try await row.save(on: app.db)

            // Now: the test may still be running, so it is left alone.
            try await TestingStatus.resetStuck(on: app.db, olderThan: .seconds(75))
            #expect(try await IntegrationConfig.find(row.id, on: app.db)?.status == "testing")
            // An hour later: no test runs that long, so the row gets the status its last test implies.
            try await TestingStatus.resetStuck(on: app.db, olderThan: .seconds(75), now: Date().addingTimeInterval(3600))
            #expect(try await IntegrationConfig.find(row.id, on: app.db)?.status == "error")
        }
    }

    @Test("log fields are capped with a visible marker")
    func logFieldsAreCapped() {
        let small: JSONValue = ["a": "b"]
        #expect(small.capped(bytes: 1024) == small)
        let long = String(repeating: "x", count: 40_000)
        let capped: JSONValue = ["body": .string(long), "n": 1]
        let result = capped.capped(bytes: 16 * 1024)
        #expect(result.jsonText().utf8.count <= 16 * 1024)
        #expect(result["body"]?.stringValue?.contains("[truncated:") == true)
        let many = JSONValue.array((0..<5000).map { .string("item-\($0)") })
        let marker = many.capped(bytes: 16 * 1024)
        #expect(marker["truncated"] == true)
        #expect(marker.jsonText().utf8.count <= 16 * 1024)
        #expect(String(repeating: "é", count: 3000).capped(characters: 2000).hasSuffix("…[truncated: 1000 more characters]"))
    }
}
