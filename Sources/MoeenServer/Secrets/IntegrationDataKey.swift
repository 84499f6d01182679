import Fluent
import Foundation
import MoeenSecrets

/// A row of `integration_data_keys`: one integration's wrapped data key.
final class IntegrationDataKey: Model, @unchecked Sendable {
    static let schema = "integration_data_keys"

    @ID(key: .id) var id: UUID?
    @Parent(key: "integration_config_id") var integration: IntegrationConfig
    @Field(key: "provider") var provider: String
    @Field(key: "key_id") var keyID: String
    @Field(key: "key_version") var keyVersion: Int
    /// base64 of the provider's wrapped form.
    @Field(key: "wrapped_key") var wrappedKey: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    var wrapped: WrappedDataKey? {
        guard let bytes = Data(base64Encoded: wrappedKey) else { return nil }
        return WrappedDataKey(provider: provider, keyID: keyID, keyVersion: keyVersion, ciphertext: Array(bytes))
    }

    func store(_ wrapped: WrappedDataKey) {
        provider = wrapped.provider
        keyID = wrapped.keyID
        keyVersion = wrapped.keyVersion
        wrappedKey = Data(wrapped.ciphertext).base64EncodedString()
    }
}

/// A row of `key_rotations`: one rotation run. At most one row is `running` at a time (a unique partial
/// index); its owner renews `lease_expires_at` while it works, and a run whose lease ran out (its process
/// died) may be taken over by the next `moeen keys rotate`.
final class KeyRotation: Model, @unchecked Sendable {
    static let schema = "key_rotations"

    @ID(key: .id) var id: UUID?
    @Field(key: "provider") var provider: String
    @Field(key: "target_key_id") var targetKeyID: String
    @Field(key: "target_key_version") var targetKeyVersion: Int
    @Field(key: "reencrypt") var reencrypt: Bool
    @Field(key: "status") var status: String
    @Field(key: "rows_total") var rowsTotal: Int
    @Field(key: "rows_done") var rowsDone: Int
    @OptionalField(key: "error_message") var errorMessage: String?
    @Field(key: "started_at") var startedAt: Date
    @OptionalField(key: "finished_at") var finishedAt: Date?
    /// Who runs it now (host, process id and a per-run token); nil once it stopped.
    @OptionalField(key: "claimed_by") var claimedBy: String?
    /// Until when `claimedBy` holds it without renewing.
    @OptionalField(key: "lease_expires_at") var leaseExpiresAt: Date?

    init() {}

    /// `local:ab12cd34 v2`.
    var targetLabel: String { "\(targetKeyID) v\(targetKeyVersion)" }
}

/// A row of `integration_health_history`.
final class IntegrationHealthHistory: Model, @unchecked Sendable {
    static let schema = "integration_health_history"

    @ID(key: .id) var id: UUID?
    @Parent(key: "integration_config_id") var integration: IntegrationConfig
    @Field(key: "score") var score: Int
    @Field(key: "status") var status: String
    @Field(key: "recorded_at") var recordedAt: Date

    init() {}
}
