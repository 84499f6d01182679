import Fluent
import FluentSQL
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor

extension Application {
    /// An evaluator over this application's database (the dispatcher is driven by the test).
    func testAlertEvaluator() -> AlertEvaluator {
        AlertEvaluator(db: db, settings: .fastTests, publicURL: moeenConfiguration.publicURL ?? "https://hub.example.org",
                       logger: Logger(label: "test.alerts"))
    }

    /// Turns the seeded default rules off, so a test watches only its own.
    func disableDefaultAlertRules() async throws {
        try await AlertRule.query(on: db).filter(\.$isDefault == true).set(\.$isEnabled, to: false).update()
    }

    /// Creates a rule through the API (201 expected); its public id.
    func createAlertRule(_ body: JSONValue, auth: String) async throws -> String {
        let created = try await call(.POST, "api/alert-rules", auth: auth, body: body)
        #expect(created.status == .created, "\(created.text)")
        return try #require(created.json["id"] as? String)
    }

    /// The rule's alerts, oldest first.
    func alerts(ofRule publicID: String) async throws -> [Alert] {
        let rule = try #require(try await AlertRule.find(idOrPublicID: publicID, on: db))
        return try await Alert.query(on: db).filter(\.$rule.$id == (try rule.requireID())).sort(\.$createdAt).sort(\.$firedAt).all()
    }

    /// Queued messages to the integration (public id) that no dispatcher has taken yet.
    func queuedMessages(to integration: String) async throws -> [OutboundMessage] {
        let row = try #require(try await IntegrationConfig.query(on: db).filter(\.$publicID == integration).first())
        return try await OutboundMessage.query(on: db).filter(\.$integration.$id == (try row.requireID()))
            .filter(\.$status == "queued").all()
    }

    /// Sets `credentials_expire_at` of the integration (public id).
    func setCredentialsExpiry(_ integration: String, _ date: Date?) async throws {
        let sql = try #require(db as? any SQLDatabase)
        try await sql.update("integration_configs").set("credentials_expire_at", to: SQLBind(date))
            .where("public_id", .equal, SQLBind(integration)).run()
    }
}

/// A Slack stand-in and an enabled Slack integration on it, for the duration of `body`.
func withSlackChannel<R>(_ app: Application, auth: String, _ body: (SlackStandIn, String) async throws -> R) async throws -> R {
    try await withStandIn(.slack) { standIn, settings in
        let slack = try #require(standIn as? SlackStandIn)
        let id = try await app.makeIntegration(.slack, settings: settings, auth: auth)
        return try await body(slack, id)
    }
}
