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

    private struct OutboundTransportKey: StorageKey {
        typealias Value = AsyncHTTPClientTransport
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

    /// The transport for calls to providers and key services: 5 s connect timeout, no redirects,
    /// connections pinned to the addresses the outbound policy approved. It owns its HTTP clients and is
    /// shut down with the application.
    var outboundTransport: AsyncHTTPClientTransport {
        if let transport = storage[OutboundTransportKey.self] { return transport }
        let transport = AsyncHTTPClientTransport(eventLoopGroup: eventLoopGroup)
        storage[OutboundTransportKey.self] = transport
        lifecycle.use(OutboundTransportShutdown(transport: transport))
        return transport
    }

    /// The outbound transport's client for requests that need no pinning.
    var outboundHTTPClient: HTTPClient { outboundTransport.client }
}

/// Shuts the outbound transport (all its HTTP clients) down when the application stops.
struct OutboundTransportShutdown: LifecycleHandler {
    let transport: AsyncHTTPClientTransport

    func shutdownAsync(_ application: Application) async {
        await transport.shutdown()
    }
}

enum ServicesSetup {
    /// Builds the key provider and the secrets service (see `KeyProviderSetup`) and the connectors.
    static func configure(_ app: Application, config: MoeenConfiguration) async throws {
        // MOEEN_OUTBOUND_ALLOWLIST holds every outbound call, key providers included.
        let transport: any HTTPTransport = config.outboundAllowlist.map {
            AllowlistedTransport(app.outboundTransport, allowlist: $0)
        } ?? app.outboundTransport
        try await KeyProviderSetup.configure(app, config: config, transport: transport)
        app.connectors = ConnectorRegistry(
            transport: transport,
            policy: OutboundTargetPolicy(allowPrivateTargets: config.allowPrivateTargets, requireHTTPS: config.isProduction,
                                         allowlist: config.outboundAllowlist),
            logger: app.logger
        )
    }
}
