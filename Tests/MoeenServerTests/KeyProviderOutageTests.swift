import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Synchronization
import Testing
import Vapor
import VaporTesting

/// A door in front of the Vault stand-in, on its own loopback port: closed, it answers every request as a
/// sealed Vault does (503 `{"errors":["Vault is sealed"]}`); open, it passes requests through unchanged.
final class VaultDoor: Sendable {
    private let upstream: URL
    private let isOpen = Mutex(false)
    private let app = Mutex<Application?>(nil)

    init(upstream: URL) { self.upstream = upstream }

    func open() { isOpen.withLock { $0 = true } }

    /// Starts on 127.0.0.1 on a free port; returns the address to use as `VAULT_ADDR`.
    func start() async throws -> URL {
        let server = try await Application.make(.testing)
        server.logger.logLevel = .warning
        server.http.server.configuration.hostname = "127.0.0.1"
        server.http.server.configuration.port = 0
        let upstream = upstream
        let handler: @Sendable (Request) async throws -> Response = { [self] req in
            guard self.isOpen.withLock({ $0 }) else {
                return Response(status: .serviceUnavailable, headers: ["Content-Type": "application/json"],
                                body: .init(string: #"{"errors":["Vault is sealed"]}"#))
            }
            var forwarded = ClientRequest(method: req.method, url: URI(string: upstream.absoluteString + req.url.string))
            for (name, value) in req.headers where name.lowercased() != "host" { forwarded.headers.add(name: name, value: value) }
            forwarded.body = req.body.data
            let answer = try await req.client.send(forwarded)
            return Response(status: answer.status, headers: answer.headers, body: answer.body.map { .init(buffer: $0) } ?? .empty)
        }
        server.on(.GET, "**", use: handler)
        server.on(.POST, "**", body: .collect(maxSize: "64kb"), use: handler)
        try await server.server.start(address: nil)
        app.withLock { $0 = server }
        guard let port = server.http.server.shared.localAddress?.port, let url = URL(string: "http://127.0.0.1:\(port)") else {
            try await shutdown()
            throw Abort(.internalServerError, reason: "the door has no port")
        }
        return url
    }

    func shutdown() async throws {
        guard let server = app.withLock({ state -> Application? in defer { state = nil }; return state }) else { return }
        await server.server.shutdown()
        try await server.asyncShutdown()
    }
}

@Suite("A key provider that is down at start")
struct KeyProviderOutageTests {
    static func vaultSettings(_ address: URL, token: String = "testing-vault-token") -> @Sendable (inout MoeenConfiguration) -> Void {
        { config in
            config.keyProvider = .vault
            config.environment = [
                "MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": address.absoluteString,
                "VAULT_TOKEN": token, "MOEEN_VAULT_TRANSIT_KEY": "moeen",
            ]
        }
    }

    /// `body` with a Vault stand-in behind a closed door.
    func withSealedVault(_ body: (VaultDoor, URL) async throws -> Void) async throws {
        let vault = VaultTransitStandIn(token: "testing-vault-token", keyNames: ["moeen"])
        let door = VaultDoor(upstream: try await vault.start())
        do {
            let address = try await door.start()
            try await body(door, address)
        } catch {
            try? await door.shutdown()
            try? await vault.shutdown()
            throw error
        }
        try await door.shutdown()
        try await vault.shutdown()
    }

    @Test("the service starts: /health 200, /ready 503 with the reason, secret operations 503 key_provider_unavailable; once Vault is up, /ready 200 and they work")
    func startsWithoutVault() async throws {
        try await withSealedVault { door, address in
            try await withMoeenApp(customize: Self.vaultSettings(address)) { app in
                #expect(try await app.call(.GET, "health", auth: nil).status == .ok)
                let ready = try await app.call(.GET, "ready", auth: nil)
                #expect(ready.status == .serviceUnavailable)
                #expect(ready.json["status"] as? String == "unavailable")
                let reason = ready.json["reason"] as? String ?? ""
                #expect(reason.contains("vault key provider"), "\(reason)")
                #expect(reason.contains("Vault is sealed"), "\(reason)")
                #expect(!reason.contains("testing-vault-token"))

                // Signing in and reading need no secret; saving one does.
                let auth = try await app.bearer(role: .admin)
                #expect(try await app.call(.GET, "api/integrations", auth: auth).status == .ok)
                let body: JSONValue = [
                    "integration_type": "seha", "name": "Sealed while down",
                    "config": ["api_url": "https://api.seha.sa", "facility_id": "F1", "api_key": "kept-by-vault"],
                ]
                let refused = try await app.call(.POST, "api/integrations", auth: auth, body: body)
                #expect(refused.status == .serviceUnavailable, "\(refused.text)")
                #expect(try errorCodeOf(refused.json) == "key_provider_unavailable")
                #expect((refused.json["error"] as? [String: Any])?["message"] as? String != nil)

                door.open()
                let deadline = ContinuousClock.now + .seconds(120)
                var status = HTTPStatus.serviceUnavailable
                while status != .ok, ContinuousClock.now < deadline {
                    status = try await app.call(.GET, "ready", auth: nil).status
                    if status != .ok { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(status == .ok, "ready once Vault answers")
                let created = try await app.call(.POST, "api/integrations", auth: auth, body: body)
                #expect(created.status == .created, "\(created.text)")
                let id = try #require(created.json["public_id"] as? String)
                let row = try #require(try await IntegrationConfig.query(on: app.db).filter(\.$publicID == id).first())
                #expect(try await app.integrationSecrets.open(row, on: app.db)["api_key"] == "kept-by-vault")
            }
        }
    }

    @Test("a bad configuration still stops the start: a missing setting, a malformed key, an unknown provider")
    func badConfigurationStops() async throws {
        let missingToken: @Sendable (inout MoeenConfiguration) -> Void = { config in
            config.keyProvider = .vault
            config.environment = ["MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": "http://127.0.0.1:1"]
        }
        let malformed: @Sendable (inout MoeenConfiguration) -> Void = { $0.environment["MOEEN_MASTER_KEY"] = "testing-not-base64!!" }
        for (customize, needle) in [(missingToken, "VAULT_TOKEN"), (malformed, "MOEEN_MASTER_KEY")] {
            await #expect { try await withMoeenApp(customize: customize) { _ in } } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return "\(error)".contains(needle)
            }
        }
    }
}

func errorCodeOf(_ json: [String: Any]) throws -> String? {
    (json["error"] as? [String: Any])?["code"] as? String
}
