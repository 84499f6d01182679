import Fluent
import Foundation
import MoeenCore
import MoeenSecrets
import Vapor

/// A change to an integration (PATCH): fields left `nil` are kept; `config` is partial.
struct IntegrationPatch: Sendable {
    var name: String?
    var description: String?
    /// Settings sent by the client. For a secret: a new value replaces it; omission, an empty string, the
    /// hint (`"…9f2c"`) or `{"set": true}` keep it; `null` clears it.
    var config: [String: JSONValue]?
    var isEnabled: Bool?
    /// `credentials_expire_at`: `nil` keeps it (see `CredentialExpiry.Change`).
    var credentialsExpireAt: CredentialExpiry.Change? = nil
}

/// Creates, changes and deletes integration rows: validation first (422 naming each field), then one
/// transaction holding the row, its data key and its audit entry, so a failure leaves nothing half-written.
struct IntegrationWriter {
    let req: Request

    func create(
        type rawType: String, name rawName: String, description: String?, config: JSONValue?, isEnabled: Bool?,
        credentialsExpireAt: CredentialExpiry.Change? = nil, by user: AuthenticatedUser
    ) async throws -> IntegrationConfig {
        var problems: [String: String] = [:]
        let type = IntegrationType(rawValue: rawType)
        if type == nil {
            problems["integration_type"] = "must be one of \(IntegrationType.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        if let problem = Self.nameProblem(name) { problems["name"] = problem }
        var incoming: [String: JSONValue] = [:]
        switch config {
        case .none, .some(.null): break
        case .some(.object(let object)): incoming = object
        default: problems["config"] = "must be an object"
        }
        if case .invalid(let problem)? = credentialsExpireAt { problems[CredentialExpiry.field] = problem }
        guard let type, problems.isEmpty else { throw APIError.validation(problems) }
        try await ensureUnique(type: type, name: name, except: nil)

        let row = IntegrationConfig()
        let rowID = UUID()
        row.id = rowID
        row.publicID = PublicID.make(.integration)
        row.integrationType = type.rawValue
        row.name = name
        row.description = description
        row.config = .object([:])
        row.isEnabled = isEnabled ?? false
        row.status = row.isEnabled ? "active" : "inactive"
        row.healthScore = 0
        row.metadata = .object([:])
        if case .set(let date)? = credentialsExpireAt { row.credentialsExpireAt = date }
        row.$createdBy.id = user.id
        row.$updatedBy.id = user.id

        let plan = try await ConfigPlan.make(type: type, incoming: incoming, stored: StoredConfig(.object([:])), row: row, enabled: row.isEnabled, req: req)
        let secrets = try req.application.integrationSecrets
        try await req.db.transaction { db in
            try await row.create(on: db)
            row.config = try await plan.apply(secrets: secrets, row: row, on: db)
            try await row.save(on: db)
            try await AuditLog(
                action: "INSERT", tableName: IntegrationConfig.schema, recordID: rowID.uuidString,
                oldValues: nil, newValues: AuditRedaction.integration(row), userID: user.id, ipAddress: req.clientAddress
            ).create(on: db)
        }
        req.logger.info("integration created", metadata: ["integration": .string(row.publicID), "type": .string(type.rawValue)])
        return row
    }

    func update(_ row: IntegrationConfig, _ patch: IntegrationPatch, by user: AuthenticatedUser) async throws -> IntegrationConfig {
        guard let type = IntegrationType(rawValue: row.integrationType) else {
            throw APIError.validation(field: "integration_type", "is not a known type")
        }
        var problems: [String: String] = [:]
        var name = row.name
        if let newName = patch.name?.trimmingCharacters(in: .whitespacesAndNewlines) {
            if let problem = Self.nameProblem(newName) { problems["name"] = problem } else { name = newName }
        }
        if case .invalid(let problem)? = patch.credentialsExpireAt { problems[CredentialExpiry.field] = problem }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        if name != row.name { try await ensureUnique(type: type, name: name, except: try row.requireID()) }

        let before = AuditRedaction.integration(row)
        let enabled = patch.isEnabled ?? row.isEnabled
        let plan = try await ConfigPlan.make(
            type: type, incoming: patch.config ?? [:], stored: StoredConfig(row.config), row: row, enabled: enabled, req: req
        )
        row.name = name
        if let description = patch.description { row.description = description.isEmpty ? nil : description }
        if case .set(let date)? = patch.credentialsExpireAt { row.credentialsExpireAt = date }
        if case .clear? = patch.credentialsExpireAt { row.credentialsExpireAt = nil }
        if let isEnabled = patch.isEnabled {
            row.isEnabled = isEnabled
            if !isEnabled || row.status == "inactive" {
                row.status = TestingStatus.settled(isEnabled: isEnabled, lastTestStatus: row.lastTestStatus)
            }
        }
        row.$updatedBy.id = user.id
        let secrets = try req.application.integrationSecrets
        try await req.db.transaction { db in
            let storedConfig = row.config
            row.config = try await plan.apply(secrets: secrets, row: row, on: db)
            try await row.save(on: db)
            // New settings may be the cure: the delivery circuit breaker closes and back-pressure is cleared.
            if row.config != storedConfig || patch.config?.isEmpty == false {
                try await DeliveryPolicyStore(db: db).reset(try row.requireID(), now: Date())
            }
            try await AuditLog(
                action: "UPDATE", tableName: IntegrationConfig.schema, recordID: try row.requireID().uuidString,
                oldValues: before, newValues: AuditRedaction.integration(row), userID: user.id, ipAddress: req.clientAddress
            ).create(on: db)
        }
        return row
    }

    func delete(_ row: IntegrationConfig, by user: AuthenticatedUser) async throws {
        let before = AuditRedaction.integration(row)
        let rowID = try row.requireID()
        try await req.db.transaction { db in
            // Messages keep their integration (the database refuses too); a row in use is disabled instead.
            let messages = try await OutboundMessage.query(on: db).filter(\.$integration.$id == rowID).count()
            guard messages == 0 else {
                throw APIError(.conflict, code: "integration_in_use",
                               message: "\(messages) message(s) were sent or queued through this integration, so it cannot be deleted; disable it instead.")
            }
            try await row.delete(on: db)
            try await AuditLog(
                action: "DELETE", tableName: IntegrationConfig.schema, recordID: rowID.uuidString,
                oldValues: before, newValues: nil, userID: user.id, ipAddress: req.clientAddress
            ).create(on: db)
        }
        req.logger.info("integration deleted", metadata: ["integration": .string(row.publicID)])
    }

    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "required" }
        if name.count > 200 { return "must be at most 200 characters" }
        return nil
    }

    private func ensureUnique(type: IntegrationType, name: String, except id: UUID?) async throws {
        let query = IntegrationConfig.query(on: req.db)
            .filter(\.$integrationType == type.rawValue)
            .filter(\.$name == name)
        if let id { query.filter(\.$id != id) }
        guard try await query.count() == 0 else {
            throw APIError.conflict("An integration of type \(type.rawValue) named \"\(name)\" already exists.")
        }
    }
}

/// The settings a write will store: plain values, secrets to seal, secrets to clear — validated as a whole.
struct ConfigPlan {
    var plain: [String: JSONValue]
    var keptSealed: [String: JSONValue]
    var newSecrets: [String: String]
    /// The fields this write sets (plain values) or removes, applied over the row as it is when written.
    var setPlain: [String: JSONValue] = [:]
    var removed: Set<String> = []

    /// Merges the incoming settings over the stored ones and validates the result with the catalogue
    /// (`config.<field>` in the error). A disabled integration may be saved incomplete (required fields are
    /// only enforced once it is enabled or tested); formats are always checked.
    static func make(
        type: IntegrationType, incoming: [String: JSONValue], stored: StoredConfig, row: IntegrationConfig, enabled: Bool, req: Request
    ) async throws -> ConfigPlan {
        let secretNames = IntegrationCatalog.secretFieldNames(for: type)
        var plan = ConfigPlan(plain: [:], keptSealed: [:], newSecrets: [:])
        for (field, value) in stored.values {
            if StoredConfig.isSealedEntry(value) { plan.keptSealed[field] = value } else { plan.plain[field] = value }
        }
        let edits = try SettingsEdits.parse(incoming, type: type, storedHints: stored.secretHints)
        for (field, edit) in edits.edits {
            switch edit {
            case .keep:
                continue
            case .remove:
                if secretNames.contains(field) { plan.keptSealed[field] = nil } else { plan.plain[field] = nil }
                plan.removed.insert(field)
            case .set(let value):
                if secretNames.contains(field) {
                    plan.newSecrets[field] = value
                    plan.keptSealed[field] = nil
                } else {
                    plan.plain[field] = .string(value)
                    plan.setPlain[field] = .string(value)
                }
            }
        }

        // Validate the whole resulting settings. Kept secrets are checked for presence only, unless their
        // format matters (a Slack webhook URL), in which case they are opened for the check.
        var view: [String: String] = [:]
        for (field, value) in plan.plain { view[field] = value.plainText }
        for (field, value) in plan.newSecrets { view[field] = value }
        if !plan.keptSealed.isEmpty {
            let formatted = IntegrationCatalog.fields(for: type).filter { $0.kind != .secret && $0.kind != .text }.map(\.name)
            let needsOpening = plan.keptSealed.keys.contains { formatted.contains($0) }
            var opened: [String: String] = [:]
            if needsOpening {
                do {
                    opened = try await req.application.integrationSecrets.open(row, on: req.db)
                } catch let error as SecretsError where error.meansUnreadableSecrets {
                    throw UnreadableSecrets.reentryNeeded(row, cause: error, missing: Array(plan.keptSealed.keys))
                }
            }
            for field in plan.keptSealed.keys { view[field] = opened[field] ?? "kept-secret" }
        }
        var found = IntegrationCatalog.validate(type: type, config: view)
        if !enabled {
            found = found.filter { view[$0.key] != nil }
        }
        guard found.isEmpty else {
            throw APIError.validation(Dictionary(uniqueKeysWithValues: found.map { ("config.\($0.key)", $0.value) }))
        }
        return plan
    }

    /// Seals the new secrets and returns the config to store: this write's changes applied over the row's
    /// settings as they are now in the database (read inside the caller's transaction, locked on PostgreSQL),
    /// so a concurrent key rotation that re-sealed the other fields is not undone.
    ///
    /// When the write leaves no stored secret in place (it sends every secret the row keeps, or clears the
    /// others), the row gets a new data key and the old one is discarded without being opened: that is how
    /// secrets sealed under a lost or wrong master key are replaced. Otherwise the new secrets are sealed
    /// under the row's data key; if that does not open, the write is refused naming the secrets to send too
    /// (see `UnreadableSecrets`).
    func apply(secrets: IntegrationSecrets, row: IntegrationConfig, on db: any Database) async throws -> JSONValue {
        var result: [String: JSONValue] = [:]
        if let id = row.id, let current = try await IntegrationConfig.lockedConfig(id, on: db) {
            result = StoredConfig(current).values
        }
        for field in removed { result[field] = nil }
        for (field, value) in setPlain { result[field] = value }
        let untouchedSealed = result.filter { StoredConfig.isSealedEntry($0.value) && newSecrets[$0.key] == nil }.map(\.key)
        let freshDataKey = !newSecrets.isEmpty && untouchedSealed.isEmpty
        do {
            for (field, entry) in try await secrets.seal(newSecrets, for: row, on: db, freshDataKey: freshDataKey) {
                result[field] = entry
            }
        } catch let error as SecretsError where error.meansUnreadableSecrets {
            throw UnreadableSecrets.reentryNeeded(row, cause: error, missing: untouchedSealed)
        }
        return .object(result)
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
            "config": StoredConfig(row.config).auditView,
            "status": .string(row.status),
            "is_enabled": .bool(row.isEnabled),
            "credentials_expire_at": row.credentialsExpireAt.map { .string(MessageIntake.timestamp($0)) } ?? .null,
        ]
    }
}
