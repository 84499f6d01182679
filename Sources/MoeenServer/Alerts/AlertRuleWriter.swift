import Fluent
import Foundation
import Vapor

/// Writes alert rules for the API and the Alerts tab alike: each change in one transaction with its
/// `audit_logs` row (the rule before and after, as the API shows it). A name another rule took meanwhile
/// surfaces as the unique violation the callers turn into their 409.
struct AlertRuleWriter {
    let db: any Database
    let userID: UUID?
    let ipAddress: String?

    init(_ req: Request) throws {
        db = req.db
        userID = try req.currentUser.id
        ipAddress = req.clientAddress
    }

    /// A new rule made by this user: its id, public id and `created_by` set; nothing written yet.
    func newRule() -> AlertRule {
        let rule = AlertRule()
        rule.id = UUID()
        rule.publicID = PublicID.make(.alertRule)
        rule.isDefault = false
        rule.createdBy = userID
        return rule
    }

    /// Creates `rule` (when `before` is nil) or saves its changes, with the audit row.
    func save(_ rule: AlertRule, before: AlertRuleDTO?) async throws {
        let (userID, ipAddress) = (userID, ipAddress)
        try await db.transaction { db in
            if before == nil { try await rule.create(on: db) } else { try await rule.save(on: db) }
            let after = try await AlertJSON.ruleDTOs([rule], on: db)[0]
            try await AuditLog(action: before == nil ? "INSERT" : "UPDATE", tableName: AlertRule.schema,
                               recordID: try rule.requireID().uuidString, oldValues: before?.auditJSON,
                               newValues: after.auditJSON, userID: userID, ipAddress: ipAddress).create(on: db)
        }
    }

    /// Deletes `rule` (its alerts go with it), with the audit row.
    func delete(_ rule: AlertRule) async throws {
        let before = try await AlertJSON.ruleDTOs([rule], on: db)[0]
        let id = try rule.requireID()
        let (userID, ipAddress) = (userID, ipAddress)
        try await db.transaction { db in
            try await rule.delete(on: db)
            try await AuditLog(action: "DELETE", tableName: AlertRule.schema, recordID: id.uuidString,
                               oldValues: before.auditJSON, newValues: nil, userID: userID, ipAddress: ipAddress).create(on: db)
        }
    }
}
