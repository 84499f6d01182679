import Fluent
import Foundation
import MoeenCore
import Vapor

/// `GET/POST /api/alert-rules`, `GET/PATCH/DELETE /api/alert-rules/{id}` (admin only). Every change writes an
/// audit row with the rule before and after.
struct AlertRulesController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let rules = routes.grouped("alert-rules").grouped(RequireRole(role: .admin))
        rules.get(use: index)
        rules.post(use: create)
        rules.get(":id", use: show)
        rules.patch(":id", use: update)
        rules.delete(":id", use: delete)
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<AlertRuleDTO> {
        let page = try PageRequest(req)
        let (rows, next) = try await AlertRule.query(on: req.db).page(page)
        return ListPage(data: try await AlertJSON.ruleDTOs(rows, on: req.db), nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> AlertRuleDTO {
        let rule = try await Self.rule(req)
        return try await AlertJSON.ruleDTOs([rule], on: req.db)[0]
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try Self.decode(req)
        let draft = try await AlertRuleValidation.validate(input, existing: nil, on: req.db)
        let writer = try AlertRuleWriter(req)
        let rule = writer.newRule()
        draft.apply(to: rule)
        try await Self.conflictOnTakenName { try await writer.save(rule, before: nil) }
        req.logger.info("alert rule created", metadata: ["rule": .string(rule.publicID), "kind": .string(rule.kind)])
        let dto = try await AlertJSON.ruleDTOs([rule], on: req.db)[0]
        return try await dto.encodeResponse(status: .created, for: req)
    }

    @Sendable
    func update(req: Request) async throws -> AlertRuleDTO {
        let rule = try await Self.rule(req)
        let input = try Self.decode(req)
        let before = try await AlertJSON.ruleDTOs([rule], on: req.db)[0]
        let draft = try await AlertRuleValidation.validate(input, existing: rule, on: req.db)
        draft.apply(to: rule)
        let writer = try AlertRuleWriter(req)
        try await Self.conflictOnTakenName { try await writer.save(rule, before: before) }
        req.logger.info("alert rule changed", metadata: ["rule": .string(rule.publicID)])
        return try await AlertJSON.ruleDTOs([rule], on: req.db)[0]
    }

    @Sendable
    func delete(req: Request) async throws -> HTTPStatus {
        let rule = try await Self.rule(req)
        try await AlertRuleWriter(req).delete(rule)
        req.logger.info("alert rule deleted", metadata: ["rule": .string(rule.publicID)])
        return .noContent
    }

    /// The `{id}` rule (UUID or public id), or 404.
    static func rule(_ req: Request) async throws -> AlertRule {
        let raw = req.parameters.get("id") ?? ""
        guard let rule = try await AlertRule.find(idOrPublicID: raw, on: req.db) else {
            throw APIError.notFound("Alert rule \(raw.capped(characters: 80))")
        }
        return rule
    }

    /// The body; 400 when it is not a JSON object.
    static func decode(_ req: Request) throws -> AlertRuleInput {
        do {
            return try req.content.decode(AlertRuleInput.self)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.malformed("The body must be a JSON object: {\"name\", \"kind\", \"threshold\", \"window\", \"channels\", …}.")
        }
    }

    /// Runs the write; a name taken meanwhile by another request is 409.
    private static func conflictOnTakenName(_ write: () async throws -> Void) async throws {
        do {
            try await write()
        } catch where UniqueViolation.matches(error) {
            throw APIError.conflict("Another alert rule has this name; choose another name.")
        }
    }
}
