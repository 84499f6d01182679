import Foundation
import Vapor

/// `GET /openapi.yaml`: the OpenAPI 3.1 description of the HTTP API (no credentials), kept by hand beside the
/// code in `Resources/OpenAPI/openapi.yaml`, with the record collections' part generated from their
/// declarations. `OpenAPIDocumentTests` holds it to the route table.
struct OpenAPIController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("openapi.yaml", use: document)
    }

    /// The bundled document's path.
    static var path: String { Resources.root + "OpenAPI/openapi.yaml" }

    /// Read once: the file ships with the build and never changes while the process runs. The record
    /// collections' part is generated from their declarations (`OpenAPIRecords`).
    static let text: String? = (try? String(contentsOfFile: path, encoding: .utf8)).map(OpenAPIRecords.merged(into:))

    @Sendable
    func document(req: Request) async throws -> Response {
        guard let text = Self.text else {
            throw APIError(.internalServerError, code: "internal_error", message: "The API description is missing from this build.")
        }
        var headers = HTTPHeaders()
        headers.contentType = HTTPMediaType(type: "application", subType: "yaml", parameters: ["charset": "utf-8"])
        headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        return Response(status: .ok, headers: headers, body: .init(string: text))
    }
}
