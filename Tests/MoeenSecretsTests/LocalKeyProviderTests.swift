import Crypto
import Foundation
import Testing
@testable import MoeenSecrets

@Suite("Local keyring and provider")
struct LocalKeyProviderTests {
    @Test("a keyring reads bare, versioned, comma- and newline-separated keys; the highest version is current")
    func parsing() throws {
        let (one, two, three) = (randomMasterKey(), randomMasterKey(), randomMasterKey())
        let ring = try LocalKeyring(text: "# comment\n\(one)\nv3:\(three), v2:\(two)\n\n", source: "MOEEN_MASTER_KEY")
        #expect(ring.versions == [1, 2, 3])
        #expect(ring.current.version == 3)
        #expect(!ring.isDevelopmentKey)
        let expectedID = "local:" + String(Hex.encode(SHA256.hash(data: Data(base64Encoded: three) ?? Data())).prefix(8))
        #expect(ring.current.keyID == expectedID)
        #expect(ring.current.keyID.count == "local:".count + 8)
    }

    @Test("bad base64, a wrong length, a bad prefix or a repeated version is refused with a message naming the source")
    func badKeys() {
        let short = Data(repeating: 7, count: 16).base64EncodedString()
        let cases: [(String, String)] = [
            ("not base64 at all!", "not valid base64"),
            (short, "16 bytes long"),
            ("vx:\(randomMasterKey())", "bad version prefix"),
            ("v2:\(randomMasterKey()),v2:\(randomMasterKey())", "v2 twice"),
            ("# only a comment", "holds no key"),
        ]
        for (text, expected) in cases {
            let error = #expect(throws: SecretsError.self) { try LocalKeyring(text: text, source: "MOEEN_MASTER_KEY") }
            guard case .configuration(let message)? = error else {
                Issue.record("expected a configuration error for \(expected)")
                continue
            }
            #expect(message.contains("MOEEN_MASTER_KEY"))
            #expect(message.contains(expected), "\(message)")
            #expect(!message.contains(short))
        }
    }

    @Test("rotation adds a version; old data keys still unwrap; rewrap moves them to the current version")
    func rotation() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            let first = try LocalKeyring.generateNewVersion(appendingTo: file)
            #expect(first.version == 1)
            #expect(SecureFile.permissions(of: file) == 0o600)

            let before = LocalKeyProvider(keyring: try LocalKeyring(text: try String(contentsOf: file, encoding: .utf8), source: "file"))
            let engineBefore = SecretsEngine(provider: before, logger: quietLogger)
            let (dataKey, wrapped) = try await engineBefore.newDataKey()
            #expect(wrapped.provider == "local")
            #expect(wrapped.keyVersion == 1)
            #expect(wrapped.keyID == first.keyID)
            #expect(try await engineBefore.needsRewrap(wrapped) == false)

            let second = try LocalKeyring.generateNewVersion(appendingTo: file)
            #expect(second.version == 2)
            #expect(second.keyID != first.keyID)
            #expect(SecureFile.permissions(of: file) == 0o600)

            let after = LocalKeyProvider(keyring: try LocalKeyring(text: try String(contentsOf: file, encoding: .utf8), source: "file"))
            #expect(after.keyring.versions == [1, 2])
            let engine = SecretsEngine(provider: after, logger: quietLogger)
            #expect(try await engine.unwrap(wrapped, integration: "int_1") == dataKey)
            #expect(try await engine.needsRewrap(wrapped))

            let rewrapped = try await engine.rewrap(wrapped)
            #expect(rewrapped.keyVersion == 2)
            #expect(rewrapped.keyID == second.keyID)
            #expect(rewrapped.ciphertext != wrapped.ciphertext)
            #expect(try await engine.needsRewrap(rewrapped) == false)
            #expect(try await engine.rewrap(rewrapped) == rewrapped)
            await engine.clearCache()
            #expect(try await engine.unwrap(rewrapped, integration: "int_1") == dataKey)
        }
    }

    @Test("a removed version fails with unknownKeyVersion; a replaced key names both key ids")
    func missingAndReplacedKeys() async throws {
        let old = LocalKeyProvider(keyring: try LocalKeyring(text: randomMasterKey(), source: "MOEEN_MASTER_KEY"))
        let wrapped = try await old.generateDataKey().wrapped

        let onlyV2 = LocalKeyProvider(keyring: try LocalKeyring(text: "v2:\(randomMasterKey())", source: "MOEEN_MASTER_KEY"))
        let missing = await secretsError { _ = try await onlyV2.unwrap(wrapped) }
        #expect(missing == .unknownKeyVersion(provider: "local", keyID: wrapped.keyID, version: 1, available: [2]))

        let replaced = LocalKeyProvider(keyring: try LocalKeyring(text: randomMasterKey(), source: "MOEEN_MASTER_KEY"))
        let engine = SecretsEngine(provider: replaced, logger: quietLogger)
        let error = await secretsError { _ = try await engine.unwrap(wrapped, integration: "int_7") }
        guard case .decryptionFailed(let integration, let keyID, let reason)? = error else {
            Issue.record("expected decryptionFailed, got \(String(describing: error))")
            return
        }
        #expect(integration == "int_7")
        #expect(keyID == wrapped.label)
        #expect(reason.contains(replaced.keyring.current.keyID))
        #expect(error?.description.contains("integration int_7 with key \(wrapped.keyID) v1") == true)
    }

    @Test("a relabelled or altered wrapped key does not unwrap")
    func tamperedWrappedKey() async throws {
        let (one, two) = (randomMasterKey(), randomMasterKey())
        let provider = LocalKeyProvider(keyring: try LocalKeyring(text: "v1:\(one),v2:\(two)", source: "MOEEN_MASTER_KEY"))
        var wrapped = try await provider.generateDataKey().wrapped
        wrapped.ciphertext[wrapped.ciphertext.count - 1] ^= 1
        #expect(await secretsError { _ = try await provider.unwrap(wrapped) }.map { if case .decryptionFailed = $0 { true } else { false } } == true)

        let other = try await provider.generateDataKey().wrapped
        var relabelled = other
        relabelled.keyVersion = 1
        relabelled.keyID = provider.keyring.entries[0].keyID
        #expect(await secretsError { _ = try await provider.unwrap(relabelled) }.map { if case .decryptionFailed = $0 { true } else { false } } == true)

        var foreign = other
        foreign.provider = "vault"
        #expect(await secretsError { _ = try await provider.unwrap(foreign) } == .wrongProvider(configured: "local", found: "vault"))
    }

    @Test("a wrapped data key survives a JSON round trip, ciphertext as base64")
    func codable() throws {
        let wrapped = WrappedDataKey(provider: "local", keyID: "local:ab12cd34", keyVersion: 2, ciphertext: [1, 2, 3, 250])
        let json = try JSONEncoder().encode(wrapped)
        #expect(String(decoding: json, as: UTF8.self).contains("\"AQID+g==\""))
        #expect(try JSONDecoder().decode(WrappedDataKey.self, from: json) == wrapped)
        #expect(wrapped.label == "local:ab12cd34 v2")
    }
}
