import Fluent
import Foundation
import MoeenCore
import SQLKit
import Vapor

/// `/api/integrations`: read for every signed-in role; writing is admin only (API.md "Roles").
struct IntegrationsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let integrations = routes.grouped("integrations")
        let readers = integrations.grouped(RequireRole(role: .viewer))
        readers.get(use: index)
        readers.get(":id", use: show)

        readers.get(":id", "logs", use: logs)
        readers.get(":id", "health", use: health)
        routes.grouped("integration-types").grouped(RequireRole(role: .viewer)).get(use: types)

        let testers = integrations.grouped(RequireRole(role: .manager))
        testers.post("test", use: test)
        testers.post(":id", "test", use: testOne)

        let admins = integrations.grouped(RequireRole(role: .admin))
        admins.post(use: create)
        admins.patch(":id", use: update)
        admins.delete(":id", use: delete)
    }

    @Sendable
    func types(req: Request) async throws -> [IntegrationTypeDescriptor] {
        IntegrationCatalog.all
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<IntegrationDTO> {
        let page = try PageRequest(req)
        let (rows, next) = try await IntegrationConfig.query(on: req.db).page(page)
        let publicURL = req.moeenConfiguration.publicURL
        return ListPage(data: try await IntegrationDTO.many(rows, publicURL: publicURL, on: req.db), nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> IntegrationDTO {
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        return try await IntegrationDTO.one(row, publicURL: req.moeenConfiguration.publicURL, on: req.db)
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
        let row = try await IntegrationWriter(req: req).create(
            type: input.integrationType, name: input.name, description: input.description,
            config: input.config, isEnabled: input.isEnabled, credentialsExpireAt: CredentialExpiry.requested(req), by: user
        )
        return try await IntegrationDTO(row, publicURL: req.moeenConfiguration.publicURL)
            .encodeResponse(status: .created, for: req)
    }

    struct UpdateInput: Decodable {
        let name: String?
        let description: String?
        let config: JSONValue?
        let isEnabled: Bool?

        enum CodingKeys: String, CodingKey {
            case name, description, config
            case isEnabled = "is_enabled"
        }
    }

    @Sendable
    func update(req: Request) async throws -> IntegrationDTO {
        let input = try req.content.decode(UpdateInput.self)
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        var config: [String: JSONValue]?
        switch input.config {
        case .none, .some(.null): config = nil
        case .some(.object(let object)): config = object
        default: throw APIError.validation(field: "config", "must be an object")
        }
        var patch = IntegrationPatch(name: input.name, description: input.description, config: config, isEnabled: input.isEnabled)
        patch.credentialsExpireAt = CredentialExpiry.requested(req)
        let updated = try await IntegrationWriter(req: req).update(row, patch, by: try req.currentUser)
        return try await IntegrationDTO.one(updated, publicURL: req.moeenConfiguration.publicURL, on: req.db)
    }

    @Sendable
    func delete(req: Request) async throws -> HTTPStatus {
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        try await IntegrationWriter(req: req).delete(row, by: try req.currentUser)
        return .noContent
    }

    /// The original's call: `{integration_config_id?, integration_type, config?, test_type?, test_recipient?}`.
    struct TestInput: Decodable {
        let integrationConfigID: String?
        let integrationType: String?
        let config: JSONValue?
        let testType: String?
        let testRecipient: String?

        enum CodingKeys: String, CodingKey {
            case config
            case integrationConfigID = "integration_config_id"
            case integrationType = "integration_type"
            case testType = "test_type"
            case testRecipient = "test_recipient"
        }
    }

    @Sendable
    func test(req: Request) async throws -> TestResultDTO {
        let input = try req.content.decode(TestInput.self)
        var row: IntegrationConfig?
        if let id = input.integrationConfigID, !id.isEmpty {
            row = try await IntegrationConfig.find(idOrPublicID: id, on: req.db)
        }
        let rawType = input.integrationType ?? row?.integrationType
        guard let rawType else { throw APIError.validation(field: "integration_type", "required") }
        guard let type = IntegrationType(rawValue: rawType) else {
            throw APIError.validation(field: "integration_type", "must be one of \(IntegrationType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var config: [String: JSONValue]?
        switch input.config {
        case .none, .some(.null): config = nil
        case .some(.object(let object)): config = object
        default: throw APIError.validation(field: "config", "must be an object")
        }
        let request = IntegrationTestRequest(
            integration: row, type: type, config: config, testType: input.testType ?? "connection", recipient: input.testRecipient
        )
        return try await IntegrationTester(req: req).run(request, by: try req.currentUser)
    }

    struct TestOneInput: Decodable {
        let testType: String?
        let testRecipient: String?

        enum CodingKeys: String, CodingKey {
            case testType = "test_type"
            case testRecipient = "test_recipient"
        }
    }

    @Sendable
    func testOne(req: Request) async throws -> TestResultDTO {
        let input = req.body.data == nil ? TestOneInput(testType: nil, testRecipient: nil) : try req.content.decode(TestOneInput.self)
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        guard let type = IntegrationType(rawValue: row.integrationType) else {
            throw APIError.validation(field: "integration_type", "is not a known type")
        }
        let request = IntegrationTestRequest(
            integration: row, type: type, config: nil, testType: input.testType ?? "connection", recipient: input.testRecipient
        )
        return try await IntegrationTester(req: req).run(request, by: try req.currentUser)
    }

    @Sendable
    func logs(req: Request) async throws -> ListPage<TestLogDTO> {
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        let page = try PageRequest(req)
        let (logs, next) = try await IntegrationTestLog.query(on: req.db)
            .filter(\.$integration.$id == row.requireID())
            .page(page, newestFirst: true)
        return ListPage(data: try logs.map(TestLogDTO.init), nextCursor: next)
    }

    struct HealthDTO: Content {
        struct Point: Content {
            let at: Date
            let score: Int
        }

        let healthScore: Int
        let status: String
        let lastTestAt: Date?
        let history: [Point]

        enum CodingKeys: String, CodingKey {
            case status, history
            case healthScore = "health_score"
            case lastTestAt = "last_test_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(healthScore, forKey: .healthScore)
            try container.encode(status, forKey: .status)
            try container.encode(lastTestAt, forKey: .lastTestAt)
            try container.encode(history, forKey: .history)
        }
    }

    @Sendable
    func health(req: Request) async throws -> HealthDTO {
        let row = try await IntegrationConfig.find(idOrPublicID: req.parameters.get("id"), on: req.db)
        let points = try await IntegrationHealthHistory.query(on: req.db)
            .filter(\.$integration.$id == row.requireID())
            .sort(\.$recordedAt, .descending)
            .limit(200)
            .all()
        return HealthDTO(
            healthScore: row.healthScore, status: row.status, lastTestAt: row.lastTestAt,
            history: points.reversed().map { HealthDTO.Point(at: $0.recordedAt, score: $0.score) }
        )
    }
}

/// A row of `integration_test_logs` as the API shows it (already redacted when stored).
struct TestLogDTO: Content {
    let id: UUID
    let publicID: String
    let integrationConfigID: UUID
    let integrationType: String
    let testType: String
    let status: String
    let requestData: JSONValue?
    let responseData: JSONValue?
    let errorMessage: String?
    let durationMs: Int?
    let testedBy: UUID?
    let createdAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, status
        case publicID = "public_id"
        case integrationConfigID = "integration_config_id"
        case integrationType = "integration_type"
        case testType = "test_type"
        case requestData = "request_data"
        case responseData = "response_data"
        case errorMessage = "error_message"
        case durationMs = "duration_ms"
        case testedBy = "tested_by"
        case createdAt = "created_at"
    }

    init(_ log: IntegrationTestLog) throws {
        id = try log.requireID()
        publicID = log.publicID
        integrationConfigID = log.$integration.id
        integrationType = log.integrationType
        testType = log.testType
        status = log.status
        requestData = log.requestData
        responseData = log.responseData
        errorMessage = log.errorMessage
        durationMs = log.durationMs
        testedBy = log.$testedBy.id
        createdAt = log.createdAt
    }
}

extension IntegrationConfig {
    /// The row's settings as stored now; on PostgreSQL the row stays locked (`FOR UPDATE`) until the
    /// transaction ends, so concurrent writers of the same row take turns.
    static func lockedConfig(_ id: UUID, on db: any Database) async throws -> JSONValue? {
        guard let sql = db as? any SQLDatabase else { return try await IntegrationConfig.find(id, on: db)?.config }
        struct Row: Decodable { let config: JSONValue }
        var select = sql.select().column("config").from(IntegrationConfig.schema).where("id", .equal, id)
        if db.isPostgres { select = select.for(.update) }
        return try await select.first(decoding: Row.self)?.config
    }

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
