import Fluent
import Foundation
import Glibc
import MoeenCore
import MoeenSecrets
@testable import MoeenServer
import ProviderStandIns
import SQLKit
import Testing
import Vapor
import VaporTesting

@Suite("GET /metrics")
struct MetricsTests {
    static let metricsToken = "testing-metrics-token"

    @Test("the text parses strictly; requests are counted by route template, never by raw path; unmatched is one series")
    func httpRequests() async throws {
        try await withMoeenApp { app in
            let admin = try await app.bearer(role: .admin)
            #expect(try await app.call(.GET, "health", auth: nil).status == .ok)
            #expect(try await app.call(.GET, "health", auth: nil).status == .ok)
            #expect(try await app.call(.GET, "api/messages/msg_20990101_nosuchmessage", auth: admin).status == .notFound)
            #expect(try await app.call(.GET, "no/such/page-4242", auth: nil).status == .notFound)
            #expect(try await app.call(.GET, "api/integrations", auth: nil).status == .unauthorized)

            let metrics = try await app.metricsExposition()
            #expect(metrics.types["moeen_http_requests_total"] == "counter")
            #expect(metrics.types["moeen_http_request_duration_seconds"] == "histogram")
            #expect(metrics.value("moeen_http_requests_total", ["route": "/health", "method": "GET", "status": "200"]) == 2)
            #expect(metrics.value("moeen_http_request_duration_seconds_count", ["route": "/health", "method": "GET"]) == 2)
            #expect(metrics.value("moeen_http_request_duration_seconds_bucket", ["route": "/health", "method": "GET", "le": "+Inf"]) == 2)
            #expect(metrics.value("moeen_http_requests_total", ["route": "/api/messages/:id", "method": "GET", "status": "404"]) == 1)
            #expect(metrics.value("moeen_http_requests_total", ["route": "unmatched", "method": "GET", "status": "404"]) == 1)
            #expect(metrics.value("moeen_http_requests_total", ["route": "/api/integrations", "method": "GET", "status": "401"]) == 1)
            for value in metrics.series("moeen_http_requests_total").compactMap({ $0.labels["route"] }) {
                #expect(value == "unmatched" || value.hasPrefix("/"), "\(value)")
                #expect(!value.contains("msg_20990101") && !value.contains("page-4242"), "a raw path became a label: \(value)")
            }
            #expect(metrics.value("moeen_metrics_database_up") == 1)
            // An empty database: nothing queued, so nothing waits.
            #expect(metrics.value("moeen_message_queue_oldest_age_seconds") == 0)
            #expect(metrics.value("moeen_messages_queued", ["channel": "sms"]) == 0)

            // The scrape itself is counted for the next one.
            let again = try await app.metricsExposition()
            #expect(again.value("moeen_http_requests_total", ["route": "/metrics", "method": "GET", "status": "200"]) == 1)
        }
    }

    @Test("with MOEEN_METRICS_TOKEN set: 401 without it or with another, 200 with it")
    func token() async throws {
        let parsed = try MoeenConfiguration.parse(environment: ["MOEEN_METRICS_TOKEN": Self.metricsToken], environmentName: "testing")
        #expect(parsed.metricsToken == Self.metricsToken)
        try await withMoeenApp(customize: { $0.metricsToken = Self.metricsToken }) { app in
            let missing = try await app.scrapeMetrics()
            #expect(missing.status == .unauthorized)
            #expect(missing.headers.first(name: "WWW-Authenticate") == "Bearer")
            #expect(!missing.text.contains("moeen_"))
            #expect(try await app.scrapeMetrics(token: "testing-metrics-tokem").status == .unauthorized)
            #expect(try await app.scrapeMetrics(token: Self.metricsToken + "x").status == .unauthorized)
            let metrics = try await app.metricsExposition(token: Self.metricsToken)
            #expect(metrics.value("moeen_http_requests_total", ["route": "/metrics", "method": "GET", "status": "401"]) == 3)
        }
        #expect(MetricsController.authorized(nil, expected: nil))
        #expect(MetricsController.authorized("anything", expected: nil))
        #expect(!MetricsController.authorized(nil, expected: "a"))
    }

    @Test("a message through the real dispatcher to the SMS stand-in, a test connection, a forged and a valid webhook move their series; no label carries a recipient, text or secret")
    func traffic() async throws {
        let publicURL = "https://hub.example.org"
        let recipient = "+966551234567"
        let text = "Reminder for Layla: physiotherapy tomorrow at 9"
        try await withSMSFixture(customize: { $0.publicURL = publicURL }) { fx in
            let app = fx.app
            let sent = try await app.sendMessage(["channel": "sms", "to": .string(recipient), "text": .string(text)], auth: fx.admin)
            #expect(sent.status == .accepted, "\(sent.text)")
            let messageID = try #require(sent.json["public_id"] as? String)

            // Queued and overdue by five minutes: the backlog gauges read it from the database.
            let sql = try #require(app.db as? any SQLDatabase)
            try await sql.update(OutboundMessage.schema).set("next_attempt_at", to: SQLBind(Date().addingTimeInterval(-300)))
                .where("public_id", .equal, SQLBind(messageID)).run()
            let queued = try await app.metricsExposition()
            #expect(queued.value("moeen_messages_queued", ["channel": "sms"]) == 1)
            #expect(queued.value("moeen_messages", ["channel": "sms", "status": "queued"]) == 1)
            let age = try #require(queued.value("moeen_message_queue_oldest_age_seconds"))
            #expect(age >= 300 && age < 24 * 3600, "\(age)")

            #expect(try await app.dispatcher.drainOnce() == 1)
            #expect(try await app.message(messageID).status == "sent")
            let test = try await app.call(.POST, "api/integrations/\(fx.integrationID)/test", auth: fx.admin)
            #expect(test.status == .ok, "\(test.text)")

            let path = "webhooks/twilio/\(fx.integrationID)"
            let sid = try #require(await fx.twilio.state.sent.first?.sid)
            let form: [(String, String)] = [("MessageSid", sid), ("MessageStatus", "delivered"), ("To", recipient), ("AccountSid", "AC00")]
            let body = Array(FormURLEncoding.encode(form).utf8)
            let forged = WebhookSignatures.signTwilio(url: "\(publicURL)/\(path)", formParameters: form, authToken: "not-the-auth-token")
            let valid = WebhookSignatures.signTwilio(url: "\(publicURL)/\(path)", formParameters: form, authToken: "fake-twilio-auth-token")
            let contentType = ("Content-Type", "application/x-www-form-urlencoded")
            #expect(try await app.postWebhook(path, body: body, headers: [contentType, ("X-Twilio-Signature", forged)]).status == .unauthorized)
            #expect(try await app.postWebhook(path, body: body, headers: [contentType, ("X-Twilio-Signature", valid)]).status == .ok)

            let metrics = try await app.metricsExposition()
            #expect(metrics.value("moeen_dispatch_attempts_total", ["channel": "sms", "outcome": "sent"]) == 1)
            #expect(metrics.value("moeen_dispatch_attempt_duration_seconds_count", ["channel": "sms", "outcome": "sent"]) == 1)
            #expect(metrics.value("moeen_messages", ["channel": "sms", "status": "sent"]) == 1)
            #expect(metrics.value("moeen_messages_queued", ["channel": "sms"]) == 0)
            #expect(metrics.value("moeen_message_queue_oldest_age_seconds") == 0)
            #expect(metrics.value("moeen_webhooks_rejected_total", ["provider": "twilio"]) == 1)
            #expect(metrics.value("moeen_webhooks_received_total", ["provider": "twilio"]) == 1)
            #expect(metrics.value("moeen_http_requests_total", ["route": "/webhooks/:provider/:publicID", "method": "POST", "status": "401"]) == 1)
            #expect(metrics.value("moeen_integration_test_duration_seconds_count",
                                  ["type": "sms", "test_type": "connection", "status": "success"]) ?? 0 >= 1)
            let integration = ["type": "sms", "public_id": fx.integrationID]
            let score = try #require(metrics.value("moeen_integration_health_score", integration))
            #expect((0...100).contains(score))
            #expect(metrics.value("moeen_integration_enabled", integration) == 1)
            #expect(metrics.value("moeen_integration_delivery_state", integration.merging(["state": "active"]) { $1 }) == 1)
            #expect(metrics.value("moeen_integration_delivery_state", integration.merging(["state": "paused"]) { $1 }) == 0)

            let forbidden = [recipient, "551234567", "Layla", text, "@", "fake-twilio-auth-token", sid, messageID, TestKeys.masterKey]
            for value in metrics.labelValues {
                for needle in forbidden {
                    #expect(!value.contains(needle), "a label carries \(needle): \(value)")
                }
            }
        }
    }

    @Test("a database that does not answer costs the scrape its database series only")
    func databaseDown() async throws {
        _ = LogCapture.shared
        let app = try await Application.make(.testing)
        do {
            var config = MoeenConfiguration(environmentName: "testing", database: .postgres(url: "postgres://moeen@127.0.0.1:1/moeen"))
            config.environment["MOEEN_MASTER_KEY"] = TestKeys.masterKey
            config.outboundAllowlist = .loopback
            try await configure(app, configuration: config)
            #expect(try await app.call(.GET, "health", auth: nil).status == .ok)
            let metrics = try await app.metricsExposition()
            #expect(metrics.value("moeen_metrics_database_up") == 0)
            #expect(metrics.value("moeen_http_requests_total", ["route": "/health", "method": "GET", "status": "200"]) == 1)
            #expect(metrics.series("moeen_messages_queued").isEmpty)
            #expect(metrics.series("moeen_integration_health_score").isEmpty)
            #expect(metrics.series("moeen_message_queue_oldest_age_seconds").isEmpty)
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    @Test("a database that takes the connection but never answers: the scrape goes on without its series")
    func databaseHangs() async throws {
        _ = LogCapture.shared
        let listener = try SilentListener()
        defer { listener.close() }
        let app = try await Application.make(.testing)
        do {
            var config = MoeenConfiguration(environmentName: "testing", database: .postgres(url: "postgres://moeen@127.0.0.1:\(listener.port)/moeen"))
            config.environment["MOEEN_MASTER_KEY"] = TestKeys.masterKey
            config.outboundAllowlist = .loopback
            try await configure(app, configuration: config)
            let metrics = try await app.metricsExposition(databaseTimeout: .seconds(1))
            #expect(metrics.value("moeen_metrics_database_up") == 0)
            #expect(metrics.series("moeen_integration_health_score").isEmpty)
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    @Test("calls to a remote key provider are counted by operation and outcome")
    func keyProviderCalls() async throws {
        try await KeyProviderOutageTests().withSealedVault { door, address in
            try await withMoeenApp(customize: KeyProviderOutageTests.vaultSettings(address)) { app in
                // The start-up check met a sealed Vault.
                let sealed = try await app.metricsExposition()
                #expect(sealed.value("moeen_key_provider_calls_total", ["provider": "vault", "operation": "check", "outcome": "failure"]) ?? 0 >= 1)

                door.open()
                let auth = try await app.bearer(role: .admin)
                let body: JSONValue = [
                    "integration_type": "seha", "name": "Kept by Vault",
                    "config": ["api_url": "https://api.seha.sa", "facility_id": "F1", "api_key": "kept-by-vault"],
                ]
                try await eventually(within: .seconds(120), "Vault answers and the integration is saved") {
                    try await app.call(.POST, "api/integrations", auth: auth, body: body).status == .created
                }
                let metrics = try await app.metricsExposition()
                #expect(metrics.value("moeen_key_provider_calls_total",
                                      ["provider": "vault", "operation": "generate_data_key", "outcome": "success"]) ?? 0 >= 1)
                #expect(metrics.value("moeen_key_provider_call_duration_seconds_count", ["provider": "vault", "operation": "generate_data_key"]) ?? 0 >= 1)
                #expect(!metrics.labelValues.contains { $0.contains("kept-by-vault") || $0.contains("testing-vault-token") })
            }
        }
    }

    @Test("the local key provider is used as it is (the key commands need it as one)")
    func localProviderNotWrapped() async throws {
        try await withMoeenApp { app in
            let provider = try app.integrationSecrets.engine.provider
            #expect(provider is LocalKeyProvider)
        }
    }
}

/// A loopback TCP port whose connections the kernel completes (the listen backlog) but nobody ever answers.
final class SilentListener: Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 64) == 0 else { throw Abort(.internalServerError, reason: "no listener") }
        var actual = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}
