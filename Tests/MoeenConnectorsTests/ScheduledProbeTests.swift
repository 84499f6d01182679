import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// The scheduler's unattended check never messages anyone: Slack's posts an empty payload, which a live
/// webhook refuses (`no_text`) and a dead one answers with its own error; the others are the read-only probe.
@Suite("Scheduled checks post nothing")
struct ScheduledProbeTests {
    @Test("a live Slack webhook answers no_text to {} and nothing reaches the channel")
    func slackLive() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let result = await makeRegistry().slack.scheduledProbe(config: settings, timeout: .seconds(30))
            #expect(result.success, "\(result.message)")
            #expect(result.statusCode == 400)
            #expect(result.details["answer"] == .string("no_text"))
            #expect(await standIn.state.posts.isEmpty)
            // The request really was the empty object.
            #expect(result.exchanges.count == 1)
            #expect(result.exchanges.first?.requestBody == .object([:]))
            #expect(result.exchanges.first?.url.contains("fakeWebhookSecret") == false)
        }
    }

    @Test("a removed webhook (no_service), a revoked one (invalid_token) and an archived channel fail the check")
    func slackDead() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            var removed = settings
            removed["webhook_url"] = settings["webhook_url"]!.replacingOccurrences(of: "fakeWebhookSecret", with: "goneWebhookSecret")
            let gone = await makeRegistry().slack.scheduledProbe(config: removed, timeout: .seconds(30))
            #expect(!gone.success)
            #expect(gone.statusCode == 404)
            #expect(gone.error?.code == "no_service")
            #expect(gone.error?.category == .credentials)

            await standIn.state.update { $0.revoked = true }
            let revoked = await makeRegistry().slack.scheduledProbe(config: settings, timeout: .seconds(30))
            #expect(!revoked.success)
            #expect(revoked.statusCode == 403)
            #expect(revoked.error?.code == "invalid_token")

            await standIn.state.update { $0.revoked = false; $0.archived = true }
            let archived = await makeRegistry().slack.scheduledProbe(config: settings, timeout: .seconds(30))
            #expect(!archived.success)
            #expect(archived.error?.code == "channel_is_archived")
            #expect(await standIn.state.posts.isEmpty)
        }
    }

    @Test("the manual Slack test still posts its message")
    func slackManualPosts() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let result = await makeRegistry().slack.probe(config: settings, timeout: .seconds(30))
            #expect(result.success, "\(result.message)")
            #expect(await standIn.state.posts.count == 1)
        }
    }

    @Test("every other provider's scheduled check is its read-only probe", arguments: [
        IntegrationType.whatsapp, .sms, .email, .googleCalendar, .seha, .tatman,
    ])
    func othersAreTheProbe(_ type: IntegrationType) async throws {
        try await withStandIn(makeStandIn(type)) { standIn, settings in
            let result = await makeRegistry().connector(for: type).scheduledProbe(config: settings, timeout: .seconds(30))
            #expect(result.success, "\(type): \(result.message)")
            #expect(await standIn.sends.sends.isEmpty)
        }
    }
}
