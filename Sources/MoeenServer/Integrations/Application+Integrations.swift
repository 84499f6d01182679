import AsyncHTTPClient
import Foundation
import MoeenConnectors
import MoeenCore
import MoeenSecrets
import Vapor

extension Application {
    private struct ConnectorsKey: StorageKey {
        typealias Value = ConnectorRegistry
    }

    private struct OutboundClientKey: StorageKey {
        typealias Value = HTTPClient
    }

    /// The provider connectors (one registry per process: it holds the Google token cache).
    var connectors: ConnectorRegistry {
        get {
            guard let registry = storage[ConnectorsKey.self] else {
                // `configure` always sets it; a bare application gets a registry that refuses private targets.
                return ConnectorRegistry(transport: AsyncHTTPClientTransport(client: http.client.shared), policy: .strict)
            }
            return registry
        }
        set { storage[ConnectorsKey.self] = newValue }
    }

    /// The HTTP client for calls to providers and key services: 5 s connect timeout, no redirects.
    /// Shut down with the application.
    var outboundHTTPClient: HTTPClient {
        if let client = storage[OutboundClientKey.self] { return client }
        let client = AsyncHTTPClientTransport.makeClient(eventLoopGroup: eventLoopGroup)
        storage[OutboundClientKey.self] = client
        lifecycle.use(OutboundClientShutdown(client: client))
        return client
    }
}

/// Shuts the outbound HTTP client down when the application stops.
struct OutboundClientShutdown: LifecycleHandler {
    let client: HTTPClient

    func shutdownAsync(_ application: Application) async {
        try? await client.shutdown()
    }
}

enum ServicesSetup {
    /// Builds the key provider (which proves itself at start-up), the secrets service and the connectors.
    static func configure(_ app: Application, config: MoeenConfiguration) async throws {
        let transport = AsyncHTTPClientTransport(client: app.outboundHTTPClient)
        let provider: any KeyProvider
        do {
            provider = try await KeyProviderFactory.make(
                environment: config.environment,
                isProduction: config.isProduction,
                workingDirectory: URL(fileURLWithPath: app.directory.workingDirectory),
                transport: transport,
                logger: app.logger
            )
        } catch let error as SecretsError {
            throw ConfigurationError(variable: "MOEEN_KEY_PROVIDER", message: "could not be used: \(error)")
        }
        app.setIntegrationSecrets(IntegrationSecrets(engine: SecretsEngine(provider: provider, logger: app.logger)))
        app.connectors = ConnectorRegistry(
            transport: transport,
            policy: OutboundTargetPolicy(allowPrivateTargets: config.allowPrivateTargets, requireHTTPS: config.isProduction),
            logger: app.logger
        )
    }
}
