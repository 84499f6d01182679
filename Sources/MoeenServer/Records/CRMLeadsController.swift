import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/api/crm/leads`: the original's leads with its allowed values enforced (422 naming the field).
struct CRMLeadsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let leads = routes.grouped("crm", "leads")
        leads.grouped(RequireRole(role: .viewer)).get(use: index)
        leads.grouped(RequireRole(role: .viewer)).get(":id", use: show)
        leads.grouped(RequireRole(role: .staff)).post(use: create)
    }

    struct LeadDTO: Content {
        let id: UUID
        let publicID: String
        let name: String
        let email: String?
        let phone: String?
        let company: String?
        let status: String
        let source: String?
        let value: Money?
        let probability: Int
        let notes: String?
        let tags: JSONValue
        let createdAt: Date?
        let updatedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, name, email, phone, company, status, source, value, probability, notes, tags
            case publicID = "public_id"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }

        init(_ row: CRMLead) throws {
            id = try row.requireID()
            publicID = row.publicID
            name = row.name
            email = row.email
            phone = row.phone
            company = row.company
            status = row.status
            source = row.source
            value = row.value
            probability = row.probability
            notes = row.notes
            tags = row.tags
            createdAt = row.createdAt
            updatedAt = row.updatedAt
        }
    }

    struct CreateInput: Decodable {
        let name: String
        let email: String?
        let phone: String?
        let company: String?
        let status: String?
        let source: String?
        let value: Money?
        let probability: Int?
        let notes: String?
        let tags: [String]?
    }

    @Sendable
    func index(req: Request) async throws -> ListPage<LeadDTO> {
        let page = try PageRequest(req)
        let query = CRMLead.query(on: req.db)
        if let status = req.query[String.self, at: "status"] {
            guard CRMValues.leadStatuses.contains(status) else {
                throw APIError.validation(field: "status", "must be one of \(CRMValues.leadStatuses.joined(separator: ", "))")
            }
            query.filter(\.$status == status)
        }
        let (rows, next) = try await query.page(page)
        return try ListPage(data: rows.map(LeadDTO.init), nextCursor: next)
    }

    @Sendable
    func show(req: Request) async throws -> LeadDTO {
        let raw = req.parameters.get("id") ?? ""
        let row: CRMLead? = if let uuid = UUID(uuidString: raw) {
            try await CRMLead.find(uuid, on: req.db)
        } else {
            try await CRMLead.query(on: req.db).filter(\.$publicID == raw).first()
        }
        guard let row else { throw APIError.notFound("Lead \(raw)") }
        return try LeadDTO(row)
    }

    @Sendable
    func create(req: Request) async throws -> Response {
        let input = try req.content.decode(CreateInput.self)
        var problems: [String: String] = [:]
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { problems["name"] = "required" }
        let status = input.status ?? "new"
        if !CRMValues.leadStatuses.contains(status) {
            problems["status"] = "must be one of \(CRMValues.leadStatuses.joined(separator: ", "))"
        }
        let probability = input.probability ?? 0
        if !(0...100).contains(probability) { problems["probability"] = "must be from 0 to 100" }
        if let email = input.email, !email.isEmpty, !IntegrationCatalog.isEmail(email) { problems["email"] = "must be an e-mail address" }
        if let phone = input.phone, !phone.isEmpty, !IntegrationCatalog.isE164(phone) {
            problems["phone"] = "must be an international number like +966501234567"
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }

        let row = CRMLead()
        row.publicID = PublicID.make(.lead)
        row.name = name
        row.email = input.email
        row.phone = input.phone
        row.company = input.company
        row.status = status
        row.source = input.source
        row.value = input.value
        row.probability = probability
        row.notes = input.notes
        row.tags = .array((input.tags ?? []).map(JSONValue.string))
        row.$createdBy.id = try req.currentUser.id
        try await row.create(on: req.db)
        return try await LeadDTO(row).encodeResponse(status: .created, for: req)
    }
}
