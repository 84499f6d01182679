import Foundation
import Logging
import MoeenCore
import Testing
@testable import MoeenSecrets

@Suite("Key provider factory")
struct KeyProviderFactoryTests {
    /// A transport for factory calls that must not reach the network.
    struct NoNetwork: HTTPTransport {
        func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
            throw .connectFailed("no network in this test")
        }
    }

    func make(_ environment: [String: String], production: Bool, in directory: URL, logger: Logger = quietLogger)
        async throws -> any KeyProvider
    {
        try await KeyProviderFactory.make(
            environment: environment, isProduction: production, workingDirectory: directory, transport: NoNetwork(),
            logger: logger)
    }

    func configurationMessage(_ body: () async throws -> Void) async -> String? {
        guard case .configuration(let message)? = await secretsError(body) else { return nil }
        return message
    }

    @Test("development generates a key once, mode 0600, marked as a development key, and reuses it")
    func developmentKey() async throws {
        try await withTemporaryDirectory { directory in
            let recorder = LogRecorder()
            let first = try #require(try await make([:], production: false, in: directory, logger: recorder.logger) as? LocalKeyProvider)
            let file = KeyProviderFactory.developmentKeyFile(workingDirectory: directory)
            #expect(SecureFile.permissions(of: file) == 0o600)
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.hasPrefix(LocalKeyring.developmentMarker))
            #expect(first.keyring.isDevelopmentKey)
            #expect(recorder.entries.contains { $0.level == .warning && $0.text.contains("DEVELOPMENT MASTER KEY GENERATED") })
            #expect(!recorder.entries.map(\.text).joined().contains(text.split(separator: ":").last.map(String.init) ?? "-"))

            let wrapped = try await first.generateDataKey()
            let second = try #require(try await make([:], production: false, in: directory) as? LocalKeyProvider)
            #expect(second.keyring.current.keyID == first.keyring.current.keyID)
            #expect(try await second.unwrap(wrapped.wrapped) == wrapped.key)
            #expect(try String(contentsOf: file, encoding: .utf8) == text)
        }
    }

    @Test("production refuses a missing key, saying what to set")
    func productionMissingKey() async throws {
        try await withTemporaryDirectory { directory in
            let message = await configurationMessage { _ = try await make([:], production: true, in: directory) }
            #expect(message?.contains("MOEEN_MASTER_KEY") == true)
            #expect(message?.contains("MOEEN_MASTER_KEY_FILE") == true)
            #expect(!FileManager.default.fileExists(atPath: KeyProviderFactory.developmentKeyFile(workingDirectory: directory).path))
        }
    }

    @Test("production refuses the development key file, by path or left in place")
    func productionDevelopmentKey() async throws {
        try await withTemporaryDirectory { directory in
            _ = try await make([:], production: false, in: directory)
            let file = KeyProviderFactory.developmentKeyFile(workingDirectory: directory)

            let byPath = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY_FILE": file.path], production: true, in: directory)
            }
            #expect(byPath?.contains("development key") == true)
            #expect(byPath?.contains("MOEEN_MASTER_KEY_FILE") == true)

            let relative = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY_FILE": ".moeen/master.key"], production: true, in: directory)
            }
            #expect(relative?.contains("development key") == true)

            let leftInPlace = await configurationMessage { _ = try await make([:], production: true, in: directory) }
            #expect(leftInPlace?.contains("never used in production") == true)
        }
    }

    @Test("production accepts a real key from the environment or a file")
    func productionKey() async throws {
        try await withTemporaryDirectory { directory in
            let key = randomMasterKey()
            let fromEnvironment = try await make(["MOEEN_MASTER_KEY": key], production: true, in: directory)
            #expect(fromEnvironment.kind == "local")

            let file = directory.appendingPathComponent("prod.key")
            try "v1:\(key)\n".write(to: file, atomically: true, encoding: .utf8)
            let fromFile = try #require(
                try await make(["MOEEN_MASTER_KEY_FILE": file.path, "MOEEN_KEY_PROVIDER": "local"], production: true, in: directory)
                    as? LocalKeyProvider)
            #expect(try await fromFile.currentKey() == (try await fromEnvironment.currentKey()))
        }
    }

    @Test("bad base64 or a wrong length names the variable and never echoes the value")
    func badValues() async throws {
        try await withTemporaryDirectory { directory in
            let badBase64 = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY": "testing-not-base64!!"], production: false, in: directory)
            }
            #expect(badBase64?.contains("MOEEN_MASTER_KEY") == true)
            #expect(badBase64?.contains("base64") == true)
            #expect(badBase64?.contains("testing-not-base64") == false)

            let short = Data(repeating: 1, count: 31).base64EncodedString()
            let wrongLength = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY": short], production: true, in: directory)
            }
            #expect(wrongLength?.contains("MOEEN_MASTER_KEY") == true)
            #expect(wrongLength?.contains("32 bytes") == true)

            let file = directory.appendingPathComponent("bad.key")
            try "%%%".write(to: file, atomically: true, encoding: .utf8)
            let badFile = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY_FILE": file.path], production: false, in: directory)
            }
            #expect(badFile?.contains("MOEEN_MASTER_KEY_FILE") == true)
        }
    }

    @Test("other misconfigurations name what to set")
    func otherSettings() async throws {
        try await withTemporaryDirectory { directory in
            let unknown = await configurationMessage { _ = try await make(["MOEEN_KEY_PROVIDER": "gcp"], production: false, in: directory) }
            #expect(unknown?.contains("MOEEN_KEY_PROVIDER") == true)
            #expect(unknown?.contains("aws-kms") == true)

            let both = await configurationMessage {
                _ = try await make(["MOEEN_MASTER_KEY": randomMasterKey(), "MOEEN_MASTER_KEY_FILE": "x"], production: false, in: directory)
            }
            #expect(both?.contains("only one") == true)

            let kms = await configurationMessage { _ = try await make(["MOEEN_KEY_PROVIDER": "aws-kms"], production: true, in: directory) }
            #expect(kms?.contains("MOEEN_KMS_KEY_ID, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY") == true)

            let vault = await configurationMessage {
                _ = try await make(["MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": "http://vault.example.test:8200", "VAULT_TOKEN": "testing"],
                    production: true, in: directory)
            }
            #expect(vault?.contains("VAULT_ADDR") == true)
            #expect(vault?.contains("https") == true)

            let unreachable = await configurationMessage {
                _ = try await make(["MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": "https://vault.example.test", "VAULT_TOKEN": "testing"],
                    production: true, in: directory)
            }
            #expect(unreachable?.contains("start-up check") == true)
            #expect(unreachable?.contains("VAULT_ADDR") == true)
            #expect(unreachable?.contains("testing") == false)
        }
    }
}
