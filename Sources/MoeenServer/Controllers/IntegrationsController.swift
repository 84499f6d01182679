import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/api/integrations`: read for every signed-in role; writing is admin only (API.md "Roles").
struct IntegrationsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let integrations = routes.grouped("integrations")
        let readers = integrations.grouped(RequireRole(role: .viewer))
        readers.get(use: index)
        readers.get(":id", use: show)

        let admins = integrations.grouped(RequireRole(role: .admin))
        admins.post(use: create)
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<IntegrationDTO> {
        let page = try PageRequest(req)
        let (rows, next) = try await IntegrationConfig.query(on: req.db).page(page)
        let publicURL = req.moeenConfiguration.publicURL
        return try ListPage(data: rows.map { try IntegrationDTO($0, publicURL: publicURL) }, nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> IntegrationDTO {
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        return try IntegrationDTO(row, publicURL: req.moeenConfiguration.publicURL)
    }

    struct CreateInput: Decodable {
        let integrationType: String
        let name: String
        let description: String?
        let config: JSONValue?
        let isEnabled: Bool?

        enum CodingKeys: String, CodingKey {
            case name, description, config
            case integrationType = "integration_type"
            case isEnabled = "is_enabled"
        }
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try req.content.decode(CreateInput.self)
        let user = try req.currentUser
        let row = try await IntegrationWriter(req: req).create(input, by: user)
        return try await IntegrationDTO(row, publicURL: req.moeenConfiguration.publicURL)
            .encodeResponse(status: .created, for: req)
    }
}

extension IntegrationConfig {
    /// Finds by UUID or `public_id`; 404 otherwise.
    static func find(idOrPublicID raw: String?, on db: any Database) async throws -> IntegrationConfig {
        guard let raw, !raw.isEmpty else { throw APIError.notFound("The integration") }
        let row: IntegrationConfig?
        if let uuid = UUID(uuidString: raw) {
            row = try await IntegrationConfig.find(uuid, on: db)
        } else {
            row = try await IntegrationConfig.query(on: db).filter(\.$publicID == raw).first()
        }
        guard let row else { throw APIError.notFound("Integration \(raw)") }
        return row
    }
}
