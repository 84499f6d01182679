import Fluent

/// `integration_configs.credentials_expire_at` (issue 12): when the integration's credentials stop working,
/// entered by an admin or marked when a provider says the credentials have expired (see `CredentialExpiry`).
struct UpdateIntegrationConfigsAddCredentialsExpireAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("integration_configs")
            .field("credentials_expire_at", .datetime)
            .update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("integration_configs").deleteField("credentials_expire_at").update()
    }
}
