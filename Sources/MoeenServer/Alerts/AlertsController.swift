import Fluent
import Foundation
import MoeenCore
import Vapor

/// `GET /api/alerts?state=open|resolved` and `GET /api/alerts/{id}` (any signed-in role), and
/// `POST /api/alerts/{id}/acknowledge` (manager and up); also mounts the rules' routes.
struct AlertsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        try AlertRulesController().boot(routes: routes)
        let alerts = routes.grouped("alerts")
        alerts.grouped(RequireRole(role: .viewer)).get(use: index)
        alerts.grouped(RequireRole(role: .viewer)).get(":id", use: show)
        alerts.grouped(RequireRole(role: .manager)).post(":id", "acknowledge", use: acknowledge)
    }

    /// Newest first, keyset-paged.
    @Sendable
    func index(req: Request) async throws -> ListPage<AlertDTO> {
        let page = try PageRequest(req)
        let query = Alert.query(on: req.db).with(\.$rule)
        if let raw = req.query[String.self, at: "state"] {
            guard let state = AlertState(rawValue: raw) else {
                throw APIError.validation(field: "state", "must be open or resolved")
            }
            query.filter(\.$state == state.rawValue)
        }
        let (rows, next) = try await query.page(page, newestFirst: true)
        return ListPage(data: try await AlertJSON.alertDTOs(rows, on: req.db), nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> AlertDTO {
        try await AlertJSON.alertDTOs([try await Self.alert(req)], on: req.db)[0]
    }

    /// Marks an open alert acknowledged: it stays open until its condition clears but is not re-notified.
    /// Acknowledging again answers the alert unchanged; a resolved alert is 409.
    @Sendable
    func acknowledge(req: Request) async throws -> AlertDTO {
        let alert = try await Self.alert(req)
        guard alert.alertState == .open else {
            throw APIError.conflict("Alert \(alert.publicID) is already resolved.")
        }
        if alert.acknowledgedAt == nil {
            let user = try req.currentUser
            alert.acknowledgedAt = Date()
            alert.acknowledgedBy = user.id
            try await req.db.transaction { db in
                try await alert.save(on: db)
                try await AuditLog(action: "UPDATE", tableName: Alert.schema, recordID: try alert.requireID().uuidString,
                                   oldValues: ["public_id": .string(alert.publicID), "acknowledged_at": nil],
                                   newValues: ["public_id": .string(alert.publicID), "acknowledged_at": .string(RFC3339Text.format(alert.acknowledgedAt ?? Date()))],
                                   userID: user.id, ipAddress: req.clientAddress).create(on: db)
            }
            req.logger.info("alert acknowledged", metadata: ["alert": .string(alert.publicID)])
        }
        return try await AlertJSON.alertDTOs([alert], on: req.db)[0]
    }

    /// The `{id}` alert (UUID or public id) with its rule, or 404.
    static func alert(_ req: Request) async throws -> Alert {
        let raw = req.parameters.get("id") ?? ""
        guard let found = try await Alert.find(idOrPublicID: raw, on: req.db) else {
            throw APIError.notFound("Alert \(raw.capped(characters: 80))")
        }
        try await found.$rule.load(on: req.db)
        return found
    }
}
