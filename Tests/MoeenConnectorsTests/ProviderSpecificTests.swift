import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

@Suite("Provider-specific probe outcomes")
struct ProviderSpecificTests {
    @Test("WhatsApp reports verified name and quality rating")
    func whatsappDetails() async throws {
        try await withStandIn(WhatsAppStandIn()) { standIn, settings in
            await standIn.state.update { $0.qualityRating = "YELLOW" }
            let result = await makeRegistry().whatsapp.probe(config: settings, timeout: .seconds(60))
            #expect(result.details["verified_name"] == "Moeen Test Centre")
            #expect(result.details["quality_rating"] == "YELLOW")
            let request = try #require(await standIn.recorder.requests.first)
            #expect(request.header("Authorization") == "Bearer fake-whatsapp-access-token")
            #expect(request.path == "/v17.0/100000000000001")
        }
    }

    @Test("WhatsApp bad token carries code 190 and HTTP 401")
    func whatsappBadToken() async throws {
        try await withStandIn(WhatsAppStandIn()) { _, settings in
            var config = settings
            config["access_token"] = "expired"
            let result = await makeRegistry().whatsapp.probe(config: config, timeout: .seconds(60))
            #expect(result.message.hasPrefix("Invalid OAuth access token"))
            #expect(result.statusCode == 401)
            #expect(result.error?.code == "190")
            #expect(result.details["provider_error_code"] == 190)
        }
    }

    @Test("Twilio suspended account fails saying so")
    func twilioSuspended() async throws {
        try await withStandIn(TwilioStandIn()) { standIn, settings in
            await standIn.state.update { $0.status = "suspended" }
            let result = await makeRegistry().sms.probe(config: settings, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.message == "The Twilio account is suspended, not active")
            #expect(result.details["status"] == "suspended")
            #expect(result.details["type"] == "Trial")
            #expect(result.error?.kind == .permanent)
        }
    }

    @Test("Twilio account answer's auth_token is not recorded")
    func twilioRedaction() async throws {
        try await withStandIn(TwilioStandIn()) { _, settings in
            let result = await makeRegistry().sms.probe(config: settings, timeout: .seconds(60))
            #expect(result.success)
            let body = try #require(result.exchanges.first?.responseBody)
            #expect(body["auth_token"] == "[REDACTED]")
            #expect(result.exchanges.first?.requestHeaderNames.contains("Authorization") == true)
        }
    }

    @Test("SendGrid key without mail.send fails saying so")
    func sendGridScope() async throws {
        try await withStandIn(SendGridStandIn()) { standIn, settings in
            await standIn.state.update { $0.scopes = ["alerts.read", "stats.read"] }
            let result = await makeRegistry().email.probe(config: settings, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.message.contains("mail.send"))
            #expect(result.details["scopes"] == ["alerts.read", "stats.read"])
            #expect(result.error?.category == .forbidden)
        }
    }

    @Test("Google reader access fails saying so", arguments: ["reader", "freeBusyReader"])
    func googleReader(role: String) async throws {
        try await withStandIn(GoogleCalendarStandIn()) { standIn, settings in
            await standIn.state.update { $0.accessRole = role }
            let result = await makeRegistry().googleCalendar.probe(config: settings, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.message.contains("Access role \(role)"))
            #expect(result.message.contains("writer or owner"))
            #expect(result.details["access_role"] == .string(role))
            #expect(result.details["summary"] == "Moeen appointments")
        }
    }

    @Test("Seha unknown facility is a permanent not-found with the provider's message")
    func sehaNotFound() async throws {
        try await withStandIn(RecordAPIStandIn.seha()) { _, settings in
            var config = settings
            config["facility_id"] = "FAC-9999"
            let result = await makeRegistry().seha.probe(config: config, timeout: .seconds(60))
            #expect(result.message == "Facility not found")
            #expect(result.error?.category == .notFound)
            #expect(result.statusCode == 404)
        }
    }

    @Test("a dropped connection is a retryable network error")
    func dropped() async throws {
        try await withStandIn(TatmanStandInFactory.make()) { standIn, settings in
            await standIn.faults.set(FaultPlan(dropConnection: true))
            let result = await makeRegistry().tatman.probe(config: settings, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.error?.kind == .retryable)
            #expect(result.error?.category == .network)
        }
    }

    @Test("hung requests are released when the fault is cleared")
    func hangRelease() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            await standIn.faults.set(FaultPlan(hang: true))
            let probe = Task { await makeRegistry().slack.probe(config: settings, timeout: .seconds(60)) }
            #expect(await waitUntil { await standIn.faults.hungCount == 1 })
            await standIn.faults.clear()
            let result = await probe.value
            #expect(result.success, "\(result.message)")
        }
    }
}

enum TatmanStandInFactory {
    static func make() -> RecordAPIStandIn { .tatman() }
}
