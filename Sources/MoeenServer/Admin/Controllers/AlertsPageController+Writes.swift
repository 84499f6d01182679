import Fluent
import Foundation
import MoeenCore
import Vapor

/// Adding, changing and deleting rules from the Alerts tab (admins): the same checks and audit rows as
/// `POST/PATCH/DELETE /api/alert-rules`; a refused form is shown again with its problems (422, or 409 for a taken
/// name), nothing written.
extension AlertsPageController {
    @Sendable
    func createRule(req: Request) async throws -> Response {
        try await save(req, existing: nil)
    }

    @Sendable
    func updateRule(req: Request) async throws -> Response {
        try await save(req, existing: try await Self.rule(req))
    }

    @Sendable
    func deleteRule(req: Request) async throws -> Response {
        let rule = try await Self.rule(req)
        let before = try await AlertJSON.ruleDTOs([rule], on: req.db)[0]
        let user = try req.currentUser
        let id = try rule.requireID()
        try await req.db.transaction { db in
            try await rule.delete(on: db)
            try await AuditLog(action: "DELETE", tableName: AlertRule.schema, recordID: id.uuidString,
                               oldValues: before.auditJSON, newValues: nil, userID: user.id, ipAddress: req.clientAddress).create(on: db)
        }
        req.logger.info("alert rule deleted", metadata: ["rule": .string(rule.publicID), "by": "\(user.id)"])
        return AdminView.redirect(req, to: Paths.tab, notice: "rule_deleted")
    }

    private func save(_ req: Request, existing: AlertRule?) async throws -> Response {
        let form = try req.content.decode([String: String].self)
        let language = req.language
        let user = try req.currentUser
        let channelIDs = try await IntegrationConfig.query(on: req.db)
            .filter(\.$integrationType ~~ [IntegrationType.slack.rawValue, IntegrationType.email.rawValue]).all()
            .map(\.publicID)
        var draft = RuleDraft(form: form, editing: existing?.publicID, channelIDs: channelIDs)
        let (input, early, ordered) = draft.input(channelIDs: channelIDs)
        let (checked, problems) = try await AlertRuleValidation.check(input, existing: existing, on: req.db)
        let all = problems.merging(early) { found, _ in found }
        guard all.isEmpty, let checked else {
            draft.place(all, channels: ordered, language: language)
            return try await render(req, draft: draft, status: .unprocessableEntity)
        }
        if try await AlertRuleValidation.nameTaken(checked.name, excluding: existing?.id, on: req.db) {
            return try await nameTaken(req, draft)
        }

        let rule = existing ?? AlertRule()
        let before: AlertRuleDTO?
        if let existing { before = try await AlertJSON.ruleDTOs([existing], on: req.db)[0] } else { before = nil }
        if existing == nil {
            rule.id = UUID()
            rule.publicID = PublicID.make(.alertRule)
            rule.isDefault = false
            rule.createdBy = user.id
        }
        checked.apply(to: rule)
        do {
            try await req.db.transaction { db in
                if before == nil { try await rule.create(on: db) } else { try await rule.save(on: db) }
                let after = try await AlertJSON.ruleDTOs([rule], on: db)[0]
                try await AuditLog(action: before == nil ? "INSERT" : "UPDATE", tableName: AlertRule.schema,
                                   recordID: try rule.requireID().uuidString, oldValues: before?.auditJSON,
                                   newValues: after.auditJSON, userID: user.id, ipAddress: req.clientAddress).create(on: db)
            }
        } catch where UniqueViolation.matches(error) {
            return try await nameTaken(req, draft)
        }
        req.logger.info(before == nil ? "alert rule created" : "alert rule changed",
                        metadata: ["rule": .string(rule.publicID), "kind": .string(rule.kind), "by": "\(user.id)"])
        return AdminView.redirect(req, to: Paths.tab, notice: before == nil ? "rule_created" : "rule_updated")
    }

    /// Another rule has the name (found before the write, or by the unique index during it): 409, the form again.
    private func nameTaken(_ req: Request, _ draft: RuleDraft) async throws -> Response {
        var draft = draft
        draft.errors["name"] = Strings.text("error_rule_name_taken", req.language)
        return try await render(req, draft: draft, status: .conflict)
    }

    /// The `:id` rule (public id or UUID), or 404.
    static func rule(_ req: Request) async throws -> AlertRule {
        guard let raw = req.parameters.get("id"), let rule = try await AlertRule.find(idOrPublicID: raw, on: req.db) else {
            throw APIError.notFound("The alert rule")
        }
        return rule
    }
}
