import Foundation
import Logging
import MoeenCore

/// What every connector needs: the network seam, the outbound policy, a clock and a logger.
struct ConnectorContext: Sendable {
    let transport: any HTTPTransport
    let policy: OutboundTargetPolicy
    let now: @Sendable () -> Date
    let logger: Logger

    /// Resolves and checks the settings, then runs `body` within `timeout`, turning any
    /// `ProviderError` into a failed `ProbeResult` and attaching the recorded exchanges.
    func probe(
        _ type: IntegrationType,
        config: [String: String],
        timeout: Duration,
        _ body: (inout ProviderCall, Settings) async throws(ProviderError) -> ProbeResult
    ) async -> ProbeResult {
        let started = ContinuousClock.now
        let settings: Settings
        do {
            settings = try Settings(type: type, config: config)
        } catch {
            return ProbeResult.failure(error)
        }
        var call = makeCall(settings: settings, timeout: timeout)
        var result: ProbeResult
        do {
            result = try await body(&call, settings)
        } catch {
            result = ProbeResult.failure(error)
        }
        result.exchanges = call.exchanges
        result.durationMs = ProviderCall.milliseconds(ContinuousClock.now - started)
        logger.info("connection test", metadata: [
            "integration_type": .string(type.rawValue), "status": .string(result.status),
            "duration_ms": .stringConvertible(result.durationMs),
        ])
        return result
    }

    /// A fresh call session whose redactor knows the integration's secret values.
    func makeCall(settings: Settings, timeout: Duration) -> ProviderCall {
        ProviderCall(transport: transport, policy: policy, secrets: settings.secretValues, timeout: timeout,
                     logger: logger)
    }
}

/// An integration's settings with defaults applied, checked enough to be used safely.
struct Settings: Sendable {
    let type: IntegrationType
    let values: [String: String]

    /// Fails with a `configuration` error naming the first problem (unknown fields are ignored here;
    /// the server rejects them when saving).
    init(type: IntegrationType, config: [String: String]) throws(ProviderError) {
        let known = Set(IntegrationCatalog.fields(for: type).map(\.name))
        let problems = IntegrationCatalog.validate(type: type, config: config).filter { known.contains($0.key) }
        if let first = problems.sorted(by: { $0.key < $1.key }).first {
            throw ProviderError.configuration("\(first.key): \(first.value)")
        }
        self.type = type
        self.values = IntegrationCatalog.resolved(type: type, config: config)
    }

    subscript(_ key: String) -> String? { values[key] }

    /// The value of a field validation guarantees (required or defaulted).
    func required(_ key: String) throws(ProviderError) -> String {
        guard let value = values[key] else { throw ProviderError.configuration("\(key) is required") }
        return value
    }

    /// Values of the type's secret fields, for redaction.
    var secretValues: [String] {
        IntegrationCatalog.secretFieldNames(for: type).compactMap { values[$0] }
    }
}
