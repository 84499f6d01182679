import Fluent
import Foundation
import MoeenCore
import Vapor

/// Creates and changes integration rows: validation first (422 naming the field), then one transaction
/// holding the row and its audit entry, so a failure leaves nothing half-written.
struct IntegrationWriter {
    let req: Request

    static let types = ["whatsapp", "sms", "email", "google_calendar", "slack", "seha", "tatman"]

    func create(_ input: IntegrationsController.CreateInput, by user: AuthenticatedUser) async throws -> IntegrationConfig {
        var problems: [String: String] = [:]
        if !Self.types.contains(input.integrationType) {
            problems["integration_type"] = "must be one of \(Self.types.joined(separator: ", "))"
        }
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { problems["name"] = "required" } else if name.count > 200 { problems["name"] = "must be at most 200 characters" }
        if let config = input.config, config.objectValue == nil, !config.isNull {
            problems["config"] = "must be an object"
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }

        let duplicate = try await IntegrationConfig.query(on: req.db)
            .filter(\.$integrationType == input.integrationType)
            .filter(\.$name == name)
            .count()
        guard duplicate == 0 else {
            throw APIError.conflict("An integration of type \(input.integrationType) named \"\(name)\" already exists.")
        }

        let row = IntegrationConfig()
        let rowID = UUID()
        row.id = rowID
        row.publicID = PublicID.make(.integration)
        row.integrationType = input.integrationType
        row.name = name
        row.description = input.description
        row.config = .object([:])
        row.isEnabled = input.isEnabled ?? false
        row.status = row.isEnabled ? "active" : "inactive"
        row.healthScore = 0
        row.metadata = .object([:])
        row.$createdBy.id = user.id
        row.$updatedBy.id = user.id
        row.config = try await ConfigSealing(req: req).apply(input.config?.objectValue ?? [:], to: StoredConfig(.object([:])), rowID: rowID, type: row.integrationType)

        let audit = AuditLog(
            action: "INSERT", tableName: IntegrationConfig.schema, recordID: row.id?.uuidString,
            oldValues: nil, newValues: AuditRedaction.integration(row), userID: user.id, ipAddress: req.remoteAddress?.ipAddress
        )
        try await req.db.transaction { db in
            try await row.create(on: db)
            try await audit.create(on: db)
        }
        return row
    }
}

/// What an audit entry may hold of an integration: everything but secrets, which show only as set/unset.
enum AuditRedaction {
    static func integration(_ row: IntegrationConfig) -> JSONValue {
        [
            "public_id": .string(row.publicID),
            "integration_type": .string(row.integrationType),
            "name": .string(row.name),
            "description": row.description.map(JSONValue.string) ?? .null,
            "config": StoredConfig(row.config).publicView,
            "status": .string(row.status),
            "is_enabled": .bool(row.isEnabled),
        ]
    }
}
