import Crypto
import Foundation

/// The stored text form of one sealed secret field.
///
/// Format `mse1` (the only one so far):
///
///     "mse1:" + base64( nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes) )
///
/// AES-256-GCM under the integration row's data key, with additional authenticated data
///
///     "mse1" ‖ 0x00 ‖ row id (16 raw UUID bytes) ‖ field name (UTF-8)
///
/// so a ciphertext copied to another row or another field does not open. The row id has a fixed
/// length, so the field name needs no delimiter. A future format gets a new prefix (`mse2:`);
/// `open` rejects prefixes it does not know with `SecretsError.unknownFormat`.
enum SealedField {
    static let currentFormat = "mse1"
    private static let nonceLength = 12
    private static let tagLength = 16

    static func seal(_ plaintext: String, rowID: UUID, field: String, key: SymmetricKey) throws -> String {
        try requireKeySize(key)
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(
                Array(plaintext.utf8), using: key, nonce: AES.GCM.Nonce(),
                authenticating: additionalData(format: currentFormat, rowID: rowID, field: field))
        } catch {
            throw SecretsError.invalidKey("sealing failed: \(error)")
        }
        guard let combined = box.combined else {
            throw SecretsError.invalidKey("sealing produced no combined form")
        }
        return currentFormat + ":" + Base64.encode(combined)
    }

    static func open(
        _ sealed: String, rowID: UUID, field: String, key: SymmetricKey, integration: String, keyID: String
    ) throws -> String {
        guard let (format, payload) = split(sealed) else {
            throw SecretsError.decryptionFailed(
                integration: integration, keyID: keyID,
                reason: "the stored value of field \"\(field)\" is not a sealed value")
        }
        guard format == currentFormat else {
            throw SecretsError.unknownFormat(integration: integration, format: format)
        }
        try requireKeySize(key)
        guard let bytes = Base64.decode(payload), bytes.count >= nonceLength + tagLength else {
            throw SecretsError.decryptionFailed(
                integration: integration, keyID: keyID,
                reason: "the stored value of field \"\(field)\" is truncated or not valid base64")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: bytes)
            let plaintext = try AES.GCM.open(
                box, using: key, authenticating: additionalData(format: format, rowID: rowID, field: field))
            guard let text = String(data: plaintext, encoding: .utf8) else {
                throw SecretsError.decryptionFailed(
                    integration: integration, keyID: keyID,
                    reason: "field \"\(field)\" decrypted to bytes that are not UTF-8")
            }
            return text
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.decryptionFailed(
                integration: integration, keyID: keyID,
                reason: "field \"\(field)\" did not open: the key is wrong or the data was altered "
                    + "(or copied from another row or field)")
        }
    }

    /// True for text of the form `mse<digits>:<base64>`, whatever the format version.
    static func isSealed(_ text: String) -> Bool {
        guard let (_, payload) = split(text) else { return false }
        return Base64.decode(payload) != nil
    }

    /// Splits `mse1:payload` into ("mse1", "payload"); nil unless the prefix is `mse` + digits.
    private static func split(_ text: String) -> (format: String, payload: Substring)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let format = text[..<colon]
        guard format.hasPrefix("mse"), format.count > 3, format.dropFirst(3).allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        return (String(format), text[text.index(after: colon)...])
    }

    private static func additionalData(format: String, rowID: UUID, field: String) -> [UInt8] {
        var data = Array(format.utf8)
        data.append(0)
        withUnsafeBytes(of: rowID.uuid) { data.append(contentsOf: $0) }
        data.append(contentsOf: field.utf8)
        return data
    }

    private static func requireKeySize(_ key: SymmetricKey) throws {
        guard key.bitCount == 256 else {
            throw SecretsError.invalidKey("data keys must be 256 bits, this one has \(key.bitCount)")
        }
    }
}
