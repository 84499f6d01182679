import Foundation
import MoeenCore
import MoeenSecrets
import Vapor

/// Builds the key provider and the secrets service at start-up.
///
/// A bad configuration (a missing setting, a malformed key, an unknown provider; for the local provider any
/// failed check, which is pure computation) stops the start with a `ConfigurationError`. A remote provider
/// (AWS KMS, Vault) that cannot be reached or refuses its start-up check does not: the service starts,
/// `/health` answers, `/ready` answers 503 naming the reason, operations that need a secret answer 503
/// `key_provider_unavailable`, and `KeyProviderMonitor` retries the check in the background (1 s, doubling,
/// at most 60 s apart) until it passes or the application shuts down. So `moeen migrate` and `moeen users
/// create` work while the key service is down.
enum KeyProviderSetup {
    static func configure(_ app: Application, config: MoeenConfiguration, transport: any HTTPTransport) async throws {
        let provider: any KeyProvider
        do {
            // Remote providers' calls are counted and timed (`moeen_key_provider_calls_total`).
            provider = MetricsKeyProvider.wrapping(try KeyProviderFactory.build(
                environment: config.environment,
                isProduction: config.isProduction,
                workingDirectory: URL(fileURLWithPath: app.directory.workingDirectory),
                transport: transport,
                logger: app.logger
            ), metrics: app.metrics)
        } catch let error as SecretsError {
            throw ConfigurationError(variable: "MOEEN_KEY_PROVIDER", message: "could not be used: \(error)")
        }
        let availability = KeyProviderAvailability(provider: provider.kind, state: .unavailable(reason: "its start-up check has not run yet"))
        let monitor = KeyProviderMonitor(provider: provider, availability: availability, logger: app.logger)
        if case .failed(let error) = await monitor.checkNow() {
            guard KeyProviderFactory.isRetryable(error, kind: provider.kind) else {
                let failure = KeyProviderFactory.startupCheckFailure(error, kind: provider.kind)
                throw ConfigurationError(variable: "MOEEN_KEY_PROVIDER", message: "could not be used: \(failure)")
            }
            app.logger.error(
                "the key provider failed its start-up check; starting without it and retrying in the background",
                metadata: ["provider": .string(provider.kind), "reason": .string(error.description)])
            app.lifecycle.use(KeyProviderMonitorShutdown(monitor: monitor))
            await monitor.start()
        }
        app.setIntegrationSecrets(IntegrationSecrets(engine: SecretsEngine(provider: provider, logger: app.logger, availability: availability)))
    }
}

/// Stops the key provider's background retries when the application shuts down.
struct KeyProviderMonitorShutdown: LifecycleHandler {
    let monitor: KeyProviderMonitor

    func shutdownAsync(_ application: Application) async {
        await monitor.stop()
    }
}
