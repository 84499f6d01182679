import Crypto
import Foundation
import Logging

/// The `local` key provider: data keys wrapped with AES-256-GCM under a master key kept in the
/// environment (`MOEEN_MASTER_KEY`) or a file (`MOEEN_MASTER_KEY_FILE`); see `LocalKeyring`.
///
/// Wrapped form: `nonce (12) ‖ ciphertext (32) ‖ tag (16)`, with additional authenticated data
/// `"moeen-local-wrap" ‖ 0x00 ‖ key id ‖ 0x00 ‖ "v" + version`, so a wrapped key cannot be relabelled.
public struct LocalKeyProvider: KeyProvider {
    public static let kind = "local"
    public var kind: String { Self.kind }

    /// The master keys.
    public let keyring: LocalKeyring

    public init(keyring: LocalKeyring) {
        self.keyring = keyring
    }

    public func currentKey() async throws -> KeyReference {
        KeyReference(provider: kind, keyID: keyring.current.keyID, version: keyring.current.version)
    }

    public func generateDataKey() async throws -> GeneratedDataKey {
        let key = SymmetricKey(size: .bits256)
        return GeneratedDataKey(key: key, wrapped: try wrapNow(key))
    }

    public func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey {
        try wrapNow(key)
    }

    public func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        try requireOwn(wrapped)
        let entry: LocalKeyring.Entry
        if let byID = keyring.entry(keyID: wrapped.keyID) {
            entry = byID
        } else if let byVersion = keyring.entry(version: wrapped.keyVersion) {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label,
                reason: "the master key is wrong: the configured v\(byVersion.version) is \(byVersion.keyID), "
                    + "but this data key was wrapped by \(wrapped.keyID) (was MOEEN_MASTER_KEY replaced instead of rotated?)")
        } else {
            throw SecretsError.unknownKeyVersion(
                provider: kind, keyID: wrapped.keyID, version: wrapped.keyVersion, available: keyring.versions)
        }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.ciphertext)
            let bytes = try AES.GCM.open(
                box, using: entry.key,
                authenticating: Self.additionalData(keyID: wrapped.keyID, version: wrapped.keyVersion))
            return try requireDataKey(Array(bytes), from: kind)
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label,
                reason: "the wrapped data key did not open: the key is wrong or the data was altered")
        }
    }

    public func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        try wrapNow(try await unwrap(wrapped))
    }

    public func check() async throws {
        try await roundTripCheck()
    }

    private func wrapNow(_ key: SymmetricKey) throws -> WrappedDataKey {
        guard key.bitCount == 256 else {
            throw SecretsError.invalidKey("data keys must be 256 bits, this one has \(key.bitCount)")
        }
        let current = keyring.current
        do {
            let box = try AES.GCM.seal(
                key.bytes, using: current.key, nonce: AES.GCM.Nonce(),
                authenticating: Self.additionalData(keyID: current.keyID, version: current.version))
            guard let combined = box.combined else {
                throw SecretsError.invalidKey("wrapping produced no combined form")
            }
            return WrappedDataKey(
                provider: kind, keyID: current.keyID, keyVersion: current.version, ciphertext: Array(combined))
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.invalidKey("wrapping failed: \(error)")
        }
    }

    private static func additionalData(keyID: String, version: Int) -> [UInt8] {
        Array("moeen-local-wrap".utf8) + [0] + Array(keyID.utf8) + [0] + Array("v\(version)".utf8)
    }
}
