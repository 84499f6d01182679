// Stand-ins for services being written on `main` (IntegrationWriter.update, IntegrationTester), with exactly
// the agreed signatures, so the admin pages compile before they land. Delete this file when merging them.
import Fluent
import Foundation
import MoeenCore
import Vapor

struct IntegrationPatch {
    var name: String?
    var description: String?
    var config: [String: JSONValue]?
    var isEnabled: Bool?
}

extension IntegrationWriter {
    func update(_ row: IntegrationConfig, _ patch: IntegrationPatch, by user: AuthenticatedUser) async throws -> IntegrationConfig {
        if let name = patch.name { row.name = name }
        if let description = patch.description { row.description = description }
        if let isEnabled = patch.isEnabled { row.isEnabled = isEnabled }
        if let config = patch.config {
            row.config = try await ConfigSealing(req: req).apply(config, to: StoredConfig(row.config), rowID: row.requireID(), type: row.integrationType)
        }
        row.$updatedBy.id = user.id
        try await row.save(on: req.db)
        return row
    }
}

struct IntegrationTestRequest {
    var integration: IntegrationConfig?
    var type: IntegrationType
    var config: [String: JSONValue]?
    var testType: String
    var recipient: String?
}

struct TestResultDTO: Content {
    let success: Bool
    let status: String
    let testType: String
    let message: String
    let statusCode: Int?
    let durationMs: Int
    let details: JSONValue
    let logID: UUID?
    let healthScore: Int?

    enum CodingKeys: String, CodingKey {
        case success, status, message, details
        case testType = "test_type"
        case statusCode = "status_code"
        case durationMs = "duration_ms"
        case logID = "log_id"
        case healthScore = "health_score"
    }
}

struct IntegrationTester {
    let req: Request

    func run(_ request: IntegrationTestRequest, by user: AuthenticatedUser?) async throws -> TestResultDTO {
        throw APIError(.serviceUnavailable, code: "unavailable", message: "Connection tests are not available in this build.")
    }
}
