import Fluent
import Foundation
import MoeenCore

/// A row of `integration_configs`: one configured connection to a provider.
/// `config` holds the settings; secret fields are stored sealed (see MoeenSecrets), never in clear.
final class IntegrationConfig: Model, @unchecked Sendable {
    static let schema = "integration_configs"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "integration_type") var integrationType: String
    @Field(key: "name") var name: String
    @OptionalField(key: "description") var description: String?
    @Field(key: "config") var config: JSONValue
    @Field(key: "status") var status: String
    @Field(key: "is_enabled") var isEnabled: Bool
    @OptionalField(key: "last_test_at") var lastTestAt: Date?
    @OptionalField(key: "last_test_status") var lastTestStatus: String?
    @OptionalField(key: "last_test_message") var lastTestMessage: String?
    @Field(key: "health_score") var healthScore: Int
    @Field(key: "metadata") var metadata: JSONValue
    /// When the credentials stop (or stopped) working; see `CredentialExpiry`.
    @OptionalField(key: "credentials_expire_at") var credentialsExpireAt: Date?
    @OptionalParent(key: "created_by") var createdBy: User?
    @OptionalParent(key: "updated_by") var updatedBy: User?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    static let statuses = ["active", "inactive", "error", "testing"]
    static let testStatuses = ["success", "failed", "pending"]
}

/// A row of `integration_test_logs`.
final class IntegrationTestLog: Model, @unchecked Sendable {
    static let schema = "integration_test_logs"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Parent(key: "integration_config_id") var integration: IntegrationConfig
    @Field(key: "integration_type") var integrationType: String
    @Field(key: "test_type") var testType: String
    @Field(key: "status") var status: String
    @OptionalField(key: "request_data") var requestData: JSONValue?
    @OptionalField(key: "response_data") var responseData: JSONValue?
    @OptionalField(key: "error_message") var errorMessage: String?
    @OptionalField(key: "duration_ms") var durationMs: Int?
    @OptionalParent(key: "tested_by") var testedBy: User?
    /// `stored` when the row's saved settings were tested (the test counts in its health), `unsaved` when
    /// settings sent with the request were (logged for the record, never counted).
    @Field(key: "config_source") var configSource: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {
        configSource = "stored"
    }
}

/// A row of `audit_logs`. Values are always redacted before they get here.
final class AuditLog: Model, @unchecked Sendable {
    static let schema = "audit_logs"

    @ID(key: .id) var id: UUID?
    @Field(key: "action") var action: String
    @Field(key: "table_name") var tableName: String
    @OptionalField(key: "record_id") var recordID: String?
    @OptionalField(key: "old_values") var oldValues: JSONValue?
    @OptionalField(key: "new_values") var newValues: JSONValue?
    @OptionalParent(key: "user_id") var user: User?
    @OptionalField(key: "ip_address") var ipAddress: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(action: String, tableName: String, recordID: String?, oldValues: JSONValue?, newValues: JSONValue?, userID: UUID?, ipAddress: String?) {
        self.action = action
        self.tableName = tableName
        self.recordID = recordID
        self.oldValues = oldValues
        self.newValues = newValues
        self.$user.id = userID
        self.ipAddress = ipAddress
    }
}
