import AsyncHTTPClient
import Foundation
import Logging
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// One client for the whole test run (never shut down: the process ends first).
let sharedClient = AsyncHTTPClientTransport.makeClient()

/// Connectors over real HTTP, allowed to reach the loopback stand-ins.
func makeRegistry(policy: OutboundTargetPolicy = .local) -> ConnectorRegistry {
    var logger = Logger(label: "moeen.connectors.tests")
    logger.logLevel = .warning
    return ConnectorRegistry(transport: AsyncHTTPClientTransport(client: sharedClient), policy: policy, logger: logger)
}

/// A fresh stand-in of `type`.
func makeStandIn(_ type: IntegrationType) -> any ProviderStandIn {
    StandIns.make(type)
}

/// Starts `standIn` on a free port, runs `body` with the settings that work, always shuts it down.
func withStandIn<S: ProviderStandIn, R>(
    _ standIn: S, _ body: (S, [String: String]) async throws -> R
) async throws -> R {
    let url = try await standIn.start()
    do {
        let result = try await body(standIn, standIn.workingSettings(baseURL: url))
        try await standIn.shutdown()
        return result
    } catch {
        try? await standIn.shutdown()
        throw error
    }
}

/// Polls `condition` until it holds or `deadline` passes (no fixed sleeps).
func waitUntil(_ deadline: Duration = .seconds(60), _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + deadline
    while ContinuousClock.now < end {
        if await condition() { return true }
        await Task.yield()
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// The exchanges as JSON text, to check that no secret appears in them.
func exchangesText(_ exchanges: [RecordedExchange]) throws -> String {
    String(decoding: try JSONEncoder().encode(exchanges), as: UTF8.self)
}
