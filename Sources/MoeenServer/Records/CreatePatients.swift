import Fluent
import FluentSQL

/// `patients`: the centre's beneficiaries, kept minimal (the care tables reference it).
struct CreatePatients: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("patients")
            .id()
            .publicID()
            .field("full_name", .string, .required)
            .field("phone", .string)
            .field("email", .string)
            .field("date_of_birth", .date)
            .field("preferred_channel", .string)
            .timestamps()
            .allowed("preferred_channel", ["whatsapp", "sms", "email"], table: "patients")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("patients").delete()
    }
}
