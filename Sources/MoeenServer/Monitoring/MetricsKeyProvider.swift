import Crypto
import MoeenSecrets

/// A remote key provider (AWS KMS, Vault transit) with every call counted by operation and outcome and timed
/// (`moeen_key_provider_calls_total`, `moeen_key_provider_call_duration_seconds`); the calls themselves pass
/// through unchanged.
///
/// The local provider is not wrapped: its operations are computation in this process, never a call that can
/// be slow or unanswered, and `moeen keys rotate`/`retire` need to reach it as a `LocalKeyProvider`.
struct MetricsKeyProvider: KeyProvider {
    let base: any KeyProvider
    let metrics: MoeenMetrics

    /// `provider` wrapped when it is a remote one; the local provider as it is.
    static func wrapping(_ provider: any KeyProvider, metrics: MoeenMetrics) -> any KeyProvider {
        provider is LocalKeyProvider ? provider : MetricsKeyProvider(base: provider, metrics: metrics)
    }

    var kind: String { base.kind }

    func currentKey() async throws -> KeyReference {
        try await measure("current_key") { try await base.currentKey() }
    }

    func generateDataKey() async throws -> GeneratedDataKey {
        try await measure("generate_data_key") { try await base.generateDataKey() }
    }

    func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey {
        try await measure("wrap") { try await base.wrap(key) }
    }

    func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        try await measure("unwrap") { try await base.unwrap(wrapped) }
    }

    func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        try await measure("rewrap") { try await base.rewrap(wrapped) }
    }

    func check() async throws {
        try await measure("check") { try await base.check() }
    }

    private func measure<T: Sendable>(_ operation: String, _ call: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await call()
            metrics.keyProviderCall(provider: kind, operation: operation, outcome: "success", duration: ContinuousClock.now - started)
            return value
        } catch {
            metrics.keyProviderCall(provider: kind, operation: operation, outcome: "failure", duration: ContinuousClock.now - started)
            throw error
        }
    }
}
