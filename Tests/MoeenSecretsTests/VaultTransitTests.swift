import Foundation
import MoeenCore
import ProviderStandIns
import Testing
@testable import MoeenSecrets

@Suite("Vault transit provider against the stand-in")
struct VaultTransitTests {
    /// Runs `body` with a started stand-in and a live transport; shuts both down.
    func withVault(
        _ body: (VaultTransitStandIn, URL, AsyncHTTPClientTransport) async throws -> Void
    ) async throws {
        let vault = VaultTransitStandIn(token: "testing-vault-token", keyNames: ["moeen"])
        let address = try await vault.start()
        do {
            try await withTransport { transport in try await body(vault, address, transport) }
            try await vault.shutdown()
        } catch {
            try? await vault.shutdown()
            throw error
        }
    }

    @Test("datakey, decrypt, rotate, rewrap, through the factory and the engine")
    func endToEnd() async throws {
        try await withVault { vault, address, transport in
            try await withTemporaryDirectory { directory in
                let provider = try await KeyProviderFactory.make(
                    environment: [
                        "MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": address.absoluteString,
                        "VAULT_TOKEN": "testing-vault-token", "VAULT_NAMESPACE": "clinic",
                    ],
                    isProduction: true, workingDirectory: directory, transport: transport, logger: quietLogger)
                #expect(provider.kind == "vault")
                let engine = SecretsEngine(provider: provider, logger: quietLogger)

                let rowID = UUID()
                let (key, wrapped) = try await engine.newDataKey()
                #expect(wrapped.provider == "vault")
                #expect(wrapped.keyID == "vault:moeen")
                #expect(wrapped.keyVersion == 1)
                #expect(String(decoding: wrapped.ciphertext, as: UTF8.self).hasPrefix("vault:v1:"))
                let sealed = try SecretsEngine.seal("testing-secret", rowID: rowID, field: "api_key", key: key)

                await engine.clearCache()
                let unwrapped = try await engine.unwrap(wrapped, integration: "int_v")
                #expect(unwrapped == key)
                #expect(try await engine.needsRewrap(wrapped) == false)

                #expect(await vault.rotate(key: "moeen") == 2)
                #expect(try await engine.currentKey() == KeyReference(provider: "vault", keyID: "vault:moeen", version: 2))
                #expect(try await engine.needsRewrap(wrapped))
                let rewrapped = try await engine.rewrap(wrapped)
                #expect(rewrapped.keyVersion == 2)
                #expect(String(decoding: rewrapped.ciphertext, as: UTF8.self).hasPrefix("vault:v2:"))
                #expect(try await engine.needsRewrap(rewrapped) == false)

                await engine.clearCache()
                let again = try await engine.unwrap(rewrapped, integration: "int_v")
                #expect(try SecretsEngine.open(sealed, rowID: rowID, field: "api_key", key: again, integration: "int_v", keyID: rewrapped.label)
                    == "testing-secret")
                // The old version still decrypts until it is retired.
                #expect(try await provider.unwrap(wrapped) == key)

                let requests = await vault.requests()
                #expect(requests.allSatisfy { $0.token == "testing-vault-token" && $0.namespace == "clinic" })
                #expect(requests.contains { $0.method == "POST" && $0.path == "/v1/transit/datakey/plaintext/moeen" })
                #expect(requests.contains { $0.method == "POST" && $0.path == "/v1/transit/rewrap/moeen" })
                #expect(requests.contains { $0.method == "GET" && $0.path == "/v1/transit/keys/moeen" })
            }
        }
    }

    @Test("POST keys/{key}/rotate over HTTP moves the latest version")
    func rotateOverHTTP() async throws {
        try await withVault { vault, address, transport in
            let response = try await transport.send(OutboundRequest(
                method: "POST", url: address.absoluteString + "/v1/transit/keys/moeen/rotate",
                headers: [(name: "X-Vault-Token", value: "testing-vault-token")]))
            #expect((200..<300).contains(response.status))
            #expect(await vault.latestVersion(of: "moeen") == 2)
        }
    }

    @Test("a wrong token is a clear error naming VAULT_TOKEN; the factory refuses to start")
    func wrongToken() async throws {
        try await withVault { vault, address, transport in
            let settings = VaultTransitKeyProvider.Settings(address: address, token: "testing-wrong-token")
            let provider = VaultTransitKeyProvider(settings: settings, transport: transport, logger: quietLogger)
            let error = await secretsError { _ = try await provider.generateDataKey() }
            guard case .providerRejected(let kind, let reason)? = error else {
                Issue.record("expected providerRejected, got \(String(describing: error))")
                return
            }
            #expect(kind == "vault")
            #expect(reason.contains("permission denied"))
            #expect(reason.contains("VAULT_TOKEN"))
            #expect(error?.description.contains("testing-wrong-token") == false)

            try await withTemporaryDirectory { directory in
                let factoryError = await secretsError {
                    _ = try await KeyProviderFactory.make(
                        environment: ["MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": address.absoluteString, "VAULT_TOKEN": "testing-wrong-token"],
                        isProduction: true, workingDirectory: directory, transport: transport, logger: quietLogger)
                }
                guard case .configuration(let message)? = factoryError else {
                    Issue.record("expected a configuration error, got \(String(describing: factoryError))")
                    return
                }
                #expect(message.contains("permission denied"))
                #expect(message.contains("VAULT_TOKEN"))
            }
            #expect(await vault.requests().contains { $0.token == "testing-wrong-token" })
        }
    }

    @Test("an altered ciphertext or a missing key is reported clearly")
    func failures() async throws {
        try await withVault { _, address, transport in
            let provider = VaultTransitKeyProvider(
                settings: .init(address: address, token: "testing-vault-token"), transport: transport, logger: quietLogger)
            var wrapped = try await provider.generateDataKey().wrapped
            let index = wrapped.ciphertext.count - 10
            wrapped.ciphertext[index] = wrapped.ciphertext[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let engine = SecretsEngine(provider: provider, logger: quietLogger)
            let error = await secretsError { _ = try await engine.unwrap(wrapped, integration: "int_x") }
            guard case .decryptionFailed(let integration, let keyID, _)? = error else {
                Issue.record("expected decryptionFailed, got \(String(describing: error))")
                return
            }
            #expect(integration == "int_x")
            #expect(keyID == "vault:moeen v1")

            let missing = VaultTransitKeyProvider(
                settings: .init(address: address, token: "testing-vault-token", keyName: "absent"), transport: transport,
                logger: quietLogger)
            let missingError = await secretsError { _ = try await missing.currentKey() }
            #expect(missingError?.description.contains("MOEEN_VAULT_TRANSIT_KEY") == true)
        }
    }
}
