import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// The same three checks for every provider: good settings, bad credentials, a hung provider.
@Suite("Connection probes, every provider")
struct ProbeMatrixTests {
    @Test("good settings succeed with details, and no secret is recorded", arguments: IntegrationType.allCases)
    func good(type: IntegrationType) async throws {
        try await withStandIn(makeStandIn(type)) { _, settings in
            let result = await makeRegistry().connector(for: type).probe(config: settings, timeout: .seconds(60))
            #expect(result.success, "\(result.message)")
            #expect(result.status == "success")
            #expect(result.statusCode == 200)
            #expect(result.error == nil)
            #expect(!result.exchanges.isEmpty)
            let recorded = try exchangesText(result.exchanges)
            for field in IntegrationCatalog.secretFieldNames(for: type) {
                if let secret = settings[field] { #expect(!recorded.contains(secret), "\(field) leaked") }
            }
            #expect(!recorded.lowercased().contains("bearer "))
            #expect(!recorded.lowercased().contains("basic "))
            let expectedDetail: String = switch type {
            case .whatsapp: "verified_name"
            case .sms: "status"
            case .email: "scopes"
            case .googleCalendar: "access_role"
            case .slack: "channel"
            case .seha, .tatman: "name"
            }
            #expect(result.details[expectedDetail] != nil)
        }
    }

    @Test("bad credentials fail with the provider's own message", arguments: IntegrationType.allCases)
    func badCredentials(type: IntegrationType) async throws {
        try await withStandIn(makeStandIn(type)) { _, settings in
            var config = settings
            let expected: String
            switch type {
            case .whatsapp:
                config["access_token"] = "wrong-token"
                expected = "Invalid OAuth access token - Cannot parse access token"
            case .sms:
                config["auth_token"] = "wrong-token"
                expected = "Authenticate"
            case .email:
                config["api_key"] = "SG.wrong"
                expected = "authorization required"
            case .googleCalendar:
                config["refresh_token"] = "revoked-refresh-token"
                expected = "Token has been expired or revoked."
            case .slack:
                config["webhook_url"] = (settings["webhook_url"] ?? "") + "-wrong"
                expected = "no_service"
            case .seha, .tatman:
                config["api_key"] = "wrong-key"
                expected = "Invalid API key"
            }
            let result = await makeRegistry().connector(for: type).probe(config: config, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.status == "failed")
            #expect(result.message == expected)
            #expect(result.error?.kind == .permanent)
            #expect(result.error?.category == .credentials)
        }
    }

    @Test("a hung provider times out within the timeout", arguments: IntegrationType.allCases)
    func hung(type: IntegrationType) async throws {
        try await withStandIn(makeStandIn(type)) { standIn, settings in
            // The stand-in holds the request for two minutes: an answer before then can only be our timeout
            // (a `timeout` result), never the provider's — no wall-clock margin is asserted.
            await standIn.faults.set(FaultPlan(hang: true, hangFor: .seconds(120)))
            let result = await makeRegistry().connector(for: type).probe(config: settings, timeout: .milliseconds(400))
            #expect(!result.success)
            #expect(result.status == "timeout")
            #expect(result.error?.isTimeout == true)
            #expect(result.error?.kind == .retryable)
            #expect(result.durationMs < 120_000)
        }
    }

    @Test("a private target is refused before any request when not allowed", arguments: IntegrationType.allCases)
    func policy(type: IntegrationType) async throws {
        try await withStandIn(makeStandIn(type)) { standIn, settings in
            let registry = makeRegistry(policy: OutboundTargetPolicy(allowPrivateTargets: false, requireHTTPS: false))
            let result = await registry.connector(for: type).probe(config: settings, timeout: .seconds(60))
            #expect(!result.success)
            #expect(result.error?.category == .policy)
            #expect(result.message.contains("127.0.0.1"))
            #expect(await standIn.recorder.count == 0)
        }
    }

    @Test("missing settings fail before any request")
    func configuration() async {
        let result = await makeRegistry().whatsapp.probe(config: ["access_token": "x"], timeout: .seconds(1))
        #expect(!result.success)
        #expect(result.error?.category == .configuration)
        #expect(result.message.contains("phone_number_id"))
        #expect(result.exchanges.isEmpty)
    }
}
