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
        let user = try req.currentUser
        try await AlertRuleWriter(req).delete(rule)
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

        let writer = try AlertRuleWriter(req)
        let rule = existing ?? writer.newRule()
        let before: AlertRuleDTO?
        if let existing { before = try await AlertJSON.ruleDTOs([existing], on: req.db)[0] } else { before = nil }
        checked.apply(to: rule)
        do {
            try await writer.save(rule, before: before)
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
