import Crypto
import Fluent
import Foundation
import MoeenCore
import MoeenSecrets
import Vapor

/// Seals and opens the secret settings of integration rows (envelope encryption: one data key per row,
/// wrapped by the key provider; each field sealed with AES-256-GCM bound to the row id and field name).
///
/// Plaintext secrets exist only inside `open(_:on:)`'s answer, for the one call that needs them.
struct IntegrationSecrets: Sendable {
    let engine: SecretsEngine

    /// What is stored for one secret setting: `{"sealed": "mse1:…", "hint": "9f2c"}`.
    static func entry(sealed: String, plaintext: String) -> JSONValue {
        ["sealed": .string(sealed), "hint": .string(String(plaintext.suffix(4)))]
    }

    /// The row's data key, creating (and saving) one when the row has none yet.
    func dataKey(for row: IntegrationConfig, on db: any Database) async throws -> SymmetricKey {
        let rowID = try row.requireID()
        if let stored = try await IntegrationDataKey.query(on: db).filter(\.$integration.$id == rowID).first() {
            guard let wrapped = stored.wrapped else {
                throw SecretsError.decryptionFailed(integration: row.publicID, keyID: stored.keyID, reason: "the stored data key is not valid base64")
            }
            return try await engine.unwrap(wrapped, integration: row.publicID)
        }
        let (key, wrapped) = try await engine.newDataKey()
        let record = IntegrationDataKey()
        record.$integration.id = rowID
        record.store(wrapped)
        try await record.create(on: db)
        return key
    }

    /// A fresh data key for the row, replacing the stored one (which is discarded unopened): for a write that
    /// seals every secret of the row anew, so that secrets sealed under a lost or wrong key can be replaced.
    /// Run it in the writer's transaction, with the row locked.
    func replaceDataKey(for row: IntegrationConfig, on db: any Database) async throws -> SymmetricKey {
        let rowID = try row.requireID()
        let (key, wrapped) = try await engine.newDataKey()
        if let stored = try await IntegrationDataKey.query(on: db).filter(\.$integration.$id == rowID).first() {
            if let old = stored.wrapped { await engine.forget(old) }
            stored.store(wrapped)
            try await stored.save(on: db)
        } else {
            let record = IntegrationDataKey()
            record.$integration.id = rowID
            record.store(wrapped)
            try await record.create(on: db)
        }
        return key
    }

    /// Seals `plaintext` values of secret fields for the row, under its data key; with `freshDataKey`, under
    /// a new one that replaces it (the caller re-seals every secret the row keeps).
    func seal(
        _ secrets: [String: String], for row: IntegrationConfig, on db: any Database, freshDataKey: Bool = false
    ) async throws -> [String: JSONValue] {
        guard !secrets.isEmpty else { return [:] }
        let rowID = try row.requireID()
        let key = freshDataKey ? try await replaceDataKey(for: row, on: db) : try await dataKey(for: row, on: db)
        var entries: [String: JSONValue] = [:]
        for (field, plaintext) in secrets {
            let sealed = try SecretsEngine.seal(plaintext, rowID: rowID, field: field, key: key)
            entries[field] = Self.entry(sealed: sealed, plaintext: plaintext)
        }
        return entries
    }

    /// Every setting of the row as plain strings, secrets decrypted: for the connector call that needs them.
    func open(_ row: IntegrationConfig, on db: any Database) async throws -> [String: String] {
        let stored = StoredConfig(row.config)
        var result: [String: String] = [:]
        var sealedFields: [(String, String)] = []
        for (field, value) in stored.values {
            if let sealed = value["sealed"]?.stringValue {
                sealedFields.append((field, sealed))
            } else if let text = value.plainText {
                result[field] = text
            }
        }
        guard !sealedFields.isEmpty else { return result }
        let rowID = try row.requireID()
        guard let record = try await IntegrationDataKey.query(on: db).filter(\.$integration.$id == rowID).first(),
              let wrapped = record.wrapped
        else {
            throw SecretsError.decryptionFailed(integration: row.publicID, keyID: "none", reason: "the row has sealed settings but no data key")
        }
        let key = try await engine.unwrap(wrapped, integration: row.publicID)
        for (field, sealed) in sealedFields {
            result[field] = try SecretsEngine.open(sealed, rowID: rowID, field: field, key: key, integration: row.publicID, keyID: wrapped.label)
        }
        return result
    }

    /// Why the row's stored secrets cannot be opened with the configured keys (a lost or wrong master key, a
    /// retired version, another provider), nil when they open or the row stores none. A provider that
    /// cannot be reached is not such a reason: that error is thrown.
    func unreadableReason(of row: IntegrationConfig, on db: any Database) async throws -> SecretsError? {
        do {
            _ = try await open(row, on: db)
            return nil
        } catch let error as SecretsError where error.meansUnreadableSecrets {
            return error
        }
    }
}

extension JSONValue {
    /// A setting's value as text: strings as they are, numbers and booleans spelled out.
    var plainText: String? {
        switch self {
        case .string(let text): text
        case .number(let text): text
        case .bool(let flag): flag ? "true" : "false"
        default: nil
        }
    }
}

extension Application {
    private struct SecretsKey: StorageKey {
        typealias Value = IntegrationSecrets
    }

    /// Set by `configure` (see `KeyProviderSetup`); until the key provider passed its start-up check, its
    /// operations answer `key_provider_unavailable`.
    var integrationSecrets: IntegrationSecrets {
        get throws {
            guard let secrets = storage[SecretsKey.self] else {
                throw APIError(.serviceUnavailable, code: "secrets_unavailable", message: "The key provider is not configured.")
            }
            return secrets
        }
    }

    func setIntegrationSecrets(_ secrets: IntegrationSecrets) {
        storage[SecretsKey.self] = secrets
    }

    /// Why the key provider cannot be used yet (for `/ready`), nil when it can or none is configured.
    var keyProviderProblem: String? {
        storage[SecretsKey.self]?.engine.availability.problem
    }
}

extension SecretsError {
    /// Whether the stored secrets cannot be opened with the configured keys (re-entering them is the way
    /// back), as opposed to a key provider that is down or misconfigured.
    var meansUnreadableSecrets: Bool {
        switch self {
        case .decryptionFailed, .unknownFormat, .unknownKeyVersion, .wrongProvider: true
        case .providerUnavailable, .providerRejected, .invalidKey, .configuration: false
        }
    }

    /// The error answer for a secret that cannot be used: names the integration and key, never a value.
    var apiError: APIError {
        switch self {
        case .decryptionFailed, .unknownFormat, .unknownKeyVersion, .wrongProvider:
            APIError(.internalServerError, code: "secret_decryption_failed", message: description)
        case .providerUnavailable, .providerRejected:
            APIError(.serviceUnavailable, code: "key_provider_unavailable", message: description)
        case .invalidKey, .configuration:
            APIError(.internalServerError, code: "secrets_misconfigured", message: description)
        }
    }
}

/// The answer to a write that sets some secrets of a row whose stored secrets cannot be opened.
///
/// Such a write cannot seal the new values under the row's data key (it does not open), and replacing the
/// data key would lose the secrets it leaves in place. So it is refused with 409 Conflict (the request is
/// well-formed; the row's state stands in the way) and code `secret_decryption_failed`, naming in `fields`
/// every stored secret the request must also send. A write that sends them all gets a new data key.
enum UnreadableSecrets {
    static let code = "secret_decryption_failed"
    static let fieldProblem = "required: its stored value cannot be decrypted; enter it again"

    static func reentryNeeded(_ row: IntegrationConfig, cause: SecretsError, missing: [String]) -> APIError {
        let names = missing.sorted()
        return APIError(
            .conflict, code: code,
            message: "The stored secrets of integration \(row.publicID) cannot be decrypted (\(cause)). "
                + "Send every stored secret again in one request to replace them under a new data key; missing: "
                + "\(names.joined(separator: ", ")).",
            fields: Dictionary(uniqueKeysWithValues: names.map { ("config.\($0)", fieldProblem) }))
    }
}
