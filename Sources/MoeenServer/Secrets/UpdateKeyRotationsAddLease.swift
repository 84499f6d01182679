import Fluent
import FluentSQL
import Foundation

/// `key_rotations.claimed_by` and `lease_expires_at`, and a unique partial index allowing one `running` row:
/// only one rotation runs at a time, across processes and machines (see `RotationClaim`).
struct UpdateKeyRotationsAddLease: AsyncMigration {
    static let runningIndex = "uq_key_rotations_one_running"

    func prepare(on database: any Database) async throws {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        try await database.schema("key_rotations").field("claimed_by", .string).update()
        try await database.schema("key_rotations").field("lease_expires_at", .datetime).update()
        // Runs left `running` before leases existed have no owner to renew them: they stopped long ago.
        try await KeyRotation.query(on: database)
            .filter(\.$status == "running")
            .set(\.$status, to: "failed")
            .set(\.$errorMessage, to: "interrupted (found running when rotation leases were introduced); run `moeen keys rotate` to resume")
            .update()
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.raw("CREATE UNIQUE INDEX \(ident: Self.runningIndex) ON key_rotations (status) WHERE status = 'running'").run()
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.raw("DROP INDEX IF EXISTS \(ident: Self.runningIndex)").run()
        }
        try await database.schema("key_rotations").deleteField("lease_expires_at").update()
        try await database.schema("key_rotations").deleteField("claimed_by").update()
    }
}
