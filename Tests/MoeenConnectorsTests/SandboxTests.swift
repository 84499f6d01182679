import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

@Suite("Stand-in sandbox")
struct SandboxTests {
    @Test("all seven start and their working settings pass every probe")
    func allSeven() async throws {
        let sandbox = StandInSandbox()
        let endpoints = try await sandbox.start()
        #expect(endpoints.map(\.type) == IntegrationType.allCases)
        #expect(Set(endpoints.map(\.baseURL)).count == 7)
        let registry = makeRegistry()
        for endpoint in endpoints {
            #expect(IntegrationCatalog.validate(type: endpoint.type, config: endpoint.settings).isEmpty)
            // A generous deadline: this checks the settings, not speed, and 400 tests share two cores.
            let result = await registry.connector(for: endpoint.type).probe(config: endpoint.settings,
                                                                              timeout: .seconds(60))
            #expect(result.success, "\(endpoint.type): \(result.message)")
        }
        try await sandbox.shutdown()
    }

    @Test("added latency is applied and counted only for the requests asked")
    func latency() async throws {
        try await withStandIn(RecordAPIStandIn.seha()) { standIn, settings in
            await standIn.faults.set(FaultPlan(latency: .milliseconds(300), remaining: 1))
            let slow = await makeRegistry().seha.probe(config: settings, timeout: .seconds(60))
            // The plan is used up by that one request (no wall-clock comparison for the next one: timings
            // belong in benchmarks, not tests).
            #expect(await standIn.faults.plan.remaining == 0)
            let fast = await makeRegistry().seha.probe(config: settings, timeout: .seconds(60))
            #expect(slow.success && fast.success)
            #expect(slow.durationMs >= 300)
        }
    }
}
