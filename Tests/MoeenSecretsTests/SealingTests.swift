import Crypto
import Foundation
import Testing
@testable import MoeenSecrets

@Suite("Sealing fields")
struct SealingTests {
    let rowID = UUID()
    let key = SymmetricKey(size: .bits256)

    @Test("seal then open returns the plaintext; the stored text is versioned and never the plaintext")
    func roundTrip() throws {
        for plaintext in ["EAAG-testing-token", "", "كلمة السر ✓", String(repeating: "x", count: 5_000)] {
            let sealed = try SecretsEngine.seal(plaintext, rowID: rowID, field: "access_token", key: key)
            #expect(sealed.hasPrefix("mse1:"))
            #expect(plaintext.isEmpty || !sealed.contains(plaintext))
            #expect(SecretsEngine.isSealed(sealed))
            let opened = try SecretsEngine.open(
                sealed, rowID: rowID, field: "access_token", key: key, integration: "int_1", keyID: "local:testing v1")
            #expect(opened == plaintext)
        }
    }

    @Test("sealing twice gives different texts (fresh nonce)")
    func freshNonce() throws {
        let first = try SecretsEngine.seal("same", rowID: rowID, field: "f", key: key)
        let second = try SecretsEngine.seal("same", rowID: rowID, field: "f", key: key)
        #expect(first != second)
    }

    @Test("a ciphertext moved to another row or another field does not open")
    func movedCiphertext() throws {
        let sealed = try SecretsEngine.seal("secret", rowID: rowID, field: "api_key", key: key)
        let otherRow = #expect(throws: SecretsError.self) {
            try SecretsEngine.open(sealed, rowID: UUID(), field: "api_key", key: key, integration: "int_2", keyID: "local:testing v1")
        }
        let otherField = #expect(throws: SecretsError.self) {
            try SecretsEngine.open(sealed, rowID: rowID, field: "auth_token", key: key, integration: "int_1", keyID: "local:testing v1")
        }
        for error in [otherRow, otherField] {
            guard case .decryptionFailed(let integration, let keyID, _)? = error else {
                Issue.record("expected decryptionFailed, got \(String(describing: error))")
                continue
            }
            #expect(integration.hasPrefix("int_"))
            #expect(keyID == "local:testing v1")
        }
    }

    @Test("any altered byte makes open fail")
    func tampered() throws {
        let sealed = try SecretsEngine.seal("secret", rowID: rowID, field: "f", key: key)
        var bytes = Array(try #require(Data(base64Encoded: String(sealed.dropFirst(5)))))
        for index in [0, 12, bytes.count - 1] {
            bytes[index] ^= 0x01
            let altered = "mse1:" + Data(bytes).base64EncodedString()
            bytes[index] ^= 0x01
            let error = #expect(throws: SecretsError.self) {
                try SecretsEngine.open(altered, rowID: rowID, field: "f", key: key, integration: "int_1", keyID: "local:testing v1")
            }
            #expect(error?.description.contains("the key is wrong or the data was altered") == true)
        }
    }

    @Test("the wrong key fails with a message naming the integration and the key id")
    func wrongKey() throws {
        let sealed = try SecretsEngine.seal("secret", rowID: rowID, field: "f", key: key)
        let error = #expect(throws: SecretsError.self) {
            try SecretsEngine.open(
                sealed, rowID: rowID, field: "f", key: SymmetricKey(size: .bits256), integration: "int_9",
                keyID: "local:ab12cd34 v1")
        }
        let message = error?.description ?? ""
        #expect(message.contains("could not decrypt the secrets of integration int_9 with key local:ab12cd34 v1"))
        #expect(message.contains("the key is wrong or the data was altered"))
        #expect(!message.contains("secret\""))
    }

    @Test("an unknown format version fails clearly")
    func unknownFormat() throws {
        let sealed = try SecretsEngine.seal("secret", rowID: rowID, field: "f", key: key)
        let future = "mse9:" + sealed.dropFirst(5)
        #expect(SecretsEngine.isSealed(future))
        let error = #expect(throws: SecretsError.self) {
            try SecretsEngine.open(future, rowID: rowID, field: "f", key: key, integration: "int_1", keyID: "local:testing v1")
        }
        #expect(error == .unknownFormat(integration: "int_1", format: "mse9"))
        #expect(error?.description.contains("mse9") == true)
        #expect(error?.description.contains("mse1") == true)
    }

    @Test("plaintext and malformed texts are not sealed; opening them fails without crashing")
    func notSealed() {
        for text in ["plain", "mse:abc", "msex:abcd", "mse1:not base64!", "https://example.test"] {
            #expect(!SecretsEngine.isSealed(text))
        }
        for text in ["plain", "mse1:", "mse1:AAAA"] {
            #expect(throws: SecretsError.self) {
                try SecretsEngine.open(text, rowID: rowID, field: "f", key: key, integration: "int_1", keyID: "local:testing v1")
            }
        }
    }

    @Test("a data key that is not 256 bits is refused")
    func shortKey() {
        #expect(throws: SecretsError.self) {
            try SecretsEngine.seal("x", rowID: rowID, field: "f", key: SymmetricKey(size: .bits128))
        }
    }
}
