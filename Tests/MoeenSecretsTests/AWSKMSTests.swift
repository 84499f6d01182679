import Foundation
import MoeenCore
import Testing
@testable import MoeenSecrets

@Suite("AWS KMS provider against moto")
struct AWSKMSTests {
    static let credentials = AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing")

    /// Creates a KMS key with a SigV4-signed `CreateKey` call; returns its key id.
    func createKey(at endpoint: URL, transport: any HTTPTransport) async throws -> String {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "kms")
        let request = signer.sign(OutboundRequest(
            method: "POST", url: endpoint.absoluteString,
            headers: [
                (name: "Content-Type", value: "application/x-amz-json-1.1"),
                (name: "X-Amz-Target", value: "TrentService.CreateKey"),
            ],
            body: Array(#"{"Description":"moeen tests"}"#.utf8)))
        let response = try await transport.send(request)
        try #require(response.status == 200, "CreateKey answered \(response.status): \(response.bodyText)")
        struct Created: Decodable {
            struct Metadata: Decodable { var KeyId: String }
            var KeyMetadata: Metadata
        }
        return try JSONDecoder().decode(Created.self, from: Data(response.body)).KeyMetadata.KeyId
    }

    func environment(keyID: String, endpoint: URL) -> [String: String] {
        [
            "MOEEN_KEY_PROVIDER": "aws-kms", "MOEEN_KMS_KEY_ID": keyID, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL_KMS": endpoint.absoluteString,
        ]
    }

    @Test(
        "GenerateDataKey, Decrypt, Encrypt (re-wrap to another key) and error mapping, end to end",
        .enabled("moto's server is not installed (python3 -m pip install 'moto[server]'); in CI this test fails instead") {
            await MotoServer.shouldRun()
        },
        .timeLimit(.minutes(3)))
    func endToEnd() async throws {
        try await MotoServer.requireAvailable()
        try await withTransport { transport in
            try await MotoServer.run(transport: transport) { endpoint in
                try await withTemporaryDirectory { directory in
                    let keyID = try await createKey(at: endpoint, transport: transport)
                    let provider = try await KeyProviderFactory.make(
                        environment: environment(keyID: keyID, endpoint: endpoint), isProduction: false,
                        workingDirectory: directory, transport: transport, logger: quietLogger)
                    #expect(provider.kind == "aws-kms")
                    let engine = SecretsEngine(provider: provider, logger: quietLogger)

                    let rowID = UUID()
                    let (key, wrapped) = try await engine.newDataKey()
                    #expect(wrapped.provider == "aws-kms")
                    #expect(wrapped.keyVersion == 1)
                    #expect(wrapped.keyID.hasPrefix("arn:aws:kms:us-east-1:"))
                    #expect(wrapped.keyID.hasSuffix(keyID))
                    let sealed = try SecretsEngine.seal("testing-secret", rowID: rowID, field: "token", key: key)

                    await engine.clearCache()
                    let unwrapped = try await engine.unwrap(wrapped, integration: "int_k")
                    #expect(try SecretsEngine.open(sealed, rowID: rowID, field: "token", key: unwrapped, integration: "int_k", keyID: wrapped.label)
                        == "testing-secret")
                    #expect(try await engine.currentKey().keyID == wrapped.keyID)
                    #expect(try await engine.needsRewrap(wrapped) == false)

                    // A restart: a new provider from the same settings, a new engine with an empty cache.
                    let restarted = try await KeyProviderFactory.make(
                        environment: environment(keyID: keyID, endpoint: endpoint), isProduction: false,
                        workingDirectory: directory, transport: transport, logger: quietLogger)
                    let restartedEngine = SecretsEngine(provider: restarted, logger: quietLogger)
                    let afterRestart = try await restartedEngine.unwrap(wrapped, integration: "int_k")
                    #expect(try SecretsEngine.open(sealed, rowID: rowID, field: "token", key: afterRestart, integration: "int_k", keyID: wrapped.label)
                        == "testing-secret")

                    // Re-wrap under a second key (what `moeen keys rotate` does after MOEEN_KMS_KEY_ID changes).
                    let secondKeyID = try await createKey(at: endpoint, transport: transport)
                    let second = AWSKMSKeyProvider(
                        settings: .init(keyID: secondKeyID, region: "us-east-1", credentials: Self.credentials, endpoint: endpoint),
                        transport: transport, logger: quietLogger)
                    let secondEngine = SecretsEngine(provider: second, logger: quietLogger)
                    #expect(try await secondEngine.needsRewrap(wrapped))
                    let rewrapped = try await secondEngine.rewrap(wrapped)
                    #expect(rewrapped.keyID.hasSuffix(secondKeyID))
                    await secondEngine.clearCache()
                    #expect(try await secondEngine.unwrap(rewrapped, integration: "int_k") == key)

                    // An altered ciphertext blob: KMS says InvalidCiphertextException.
                    var altered = wrapped
                    altered.ciphertext[altered.ciphertext.count - 1] ^= 1
                    let error = await secretsError { _ = try await engine.unwrap(altered, integration: "int_k") }
                    guard case .decryptionFailed(let integration, let label, let reason)? = error else {
                        Issue.record("expected decryptionFailed, got \(String(describing: error))")
                        return
                    }
                    #expect(integration == "int_k")
                    #expect(label == wrapped.label)
                    #expect(reason.contains("InvalidCiphertextException"))

                    // A key that does not exist: the factory refuses to start and names the setting.
                    let missing = await secretsError {
                        _ = try await KeyProviderFactory.make(
                            environment: environment(keyID: "alias/testing-absent", endpoint: endpoint), isProduction: true,
                            workingDirectory: directory, transport: transport, logger: quietLogger)
                    }
                    guard case .configuration(let message)? = missing else {
                        Issue.record("expected a configuration error, got \(String(describing: missing))")
                        return
                    }
                    #expect(message.contains("NotFoundException"))
                    #expect(message.contains("MOEEN_KMS_KEY_ID"))
                }
            }
        }
    }

    @Test("without moto the end-to-end test is skipped on a developer machine but fails in CI, saying how to install it")
    func motoRequirement() {
        #expect(MotoServer.decision(installed: true, environment: ["CI": "true"]) == .run)
        #expect(MotoServer.decision(installed: true, environment: [:]) == .run)
        for ci in ["true", "1", "yes", "TRUE"] {
            guard case .fail(let reason) = MotoServer.decision(installed: false, environment: ["CI": ci]) else {
                Issue.record("CI=\(ci) without moto must fail")
                continue
            }
            #expect(reason.contains(MotoServer.installHint))
        }
        for environment in [[:], ["CI": ""], ["CI": "false"], ["CI": "0"]] {
            guard case .skip(let reason) = MotoServer.decision(installed: false, environment: environment) else {
                Issue.record("\(environment) without moto must skip")
                continue
            }
            #expect(reason.contains(MotoServer.installHint))
        }
    }
}
