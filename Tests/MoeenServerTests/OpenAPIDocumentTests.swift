import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting
import Yams

/// `GET /openapi.yaml` against the running application: the document describes every route the service
/// answers (pages and static files aside) and nothing it does not, names the role each operation needs
/// (API.md's table, as `RouteTableTests` holds it), uses the error shape for every error answer, and every
/// `$ref` in it resolves.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    /// Routes that are not part of the HTTP API and so not in the document, each with why. Matched as a
    /// path prefix ("/settings" covers "/settings/integrations/{id}").
    static let excludedPrefixes: [(prefix: String, why: String)] = [
        ("/settings", "admin pages (HTML)"),
        ("/setup", "the first admin's one-time setup page (HTML)"),
        ("/login", "the sign-in page (HTML)"),
        ("/logout", "signing out of the admin pages (HTML form)"),
        ("/assets/", "the admin pages' stylesheet and script (static files)"),
    ]

    /// The root path redirects to the admin pages.
    static let excludedExact: Set<String> = ["GET /"]

    /// Error answers that are not the error shape, each with why.
    static let nonErrorShapedAnswers: [String: String] = [
        "GET /ready 503": "readiness probes read `status` and `reason` (ReadyStatus), the same shape as the 200",
    ]

    static let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    /// The served document, parsed.
    static func served(_ app: Application) async throws -> [String: Any] {
        var text = ""
        try await app.testing().test(.GET, "openapi.yaml") { res async throws in
            #expect(res.status == .ok)
            #expect(res.headers.contentType?.type == "application")
            #expect(res.headers.contentType?.subType == "yaml")
            text = res.body.string
        }
        let parsed = try Yams.load(yaml: text)
        return try #require(parsed as? [String: Any], "the document is not a YAML mapping")
    }

    /// `METHOD /path` of every route, parameters written `{name}` as OpenAPI writes them.
    static func routeTable(_ app: Application) -> Set<String> {
        Set(app.routes.all.map { route in
            let path = route.path.map { component -> String in
                switch component {
                case .constant(let text): text
                case .parameter(let name): "{\(name)}"
                case .anything: "*"
                case .catchall: "**"
                }
            }.joined(separator: "/")
            return "\(route.method.rawValue) /\(path)"
        })
    }

    static func isExcluded(_ operation: String) -> Bool {
        if excludedExact.contains(operation) { return true }
        let path = operation.split(separator: " ", maxSplits: 1).last.map(String.init) ?? ""
        return excludedPrefixes.contains { path == $0.prefix || path.hasPrefix($0.prefix.hasSuffix("/") ? $0.prefix : $0.prefix + "/") }
    }

    /// `METHOD /path` → the operation object, for every operation in the document.
    static func operations(_ document: [String: Any]) -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            guard let item = item as? [String: Any] else { continue }
            for method in methods {
                if let operation = item[method] as? [String: Any] { result["\(method.uppercased()) \(path)"] = operation }
            }
        }
        return result
    }

    @Test("every route is documented and every documented operation exists (exclusions listed)")
    func routesMatchTheDocument() async throws {
        try await withMoeenApp { app in
            let document = try await Self.served(app)
            #expect(document["openapi"] as? String == "3.1.0")
            let documented = Set(Self.operations(document).keys)
            let routes = Self.routeTable(app).filter { !Self.isExcluded($0) }
            #expect(routes.count >= 20)
            for missing in routes.subtracting(documented).sorted() {
                Issue.record("\(missing) is served but not in openapi.yaml: describe it there")
            }
            for extra in documented.subtracting(routes).sorted() {
                Issue.record("\(extra) is in openapi.yaml but the application has no such route")
            }
            // The exclusions only cover what really is a page or a file: each still matches some route.
            let all = Self.routeTable(app)
            for exclusion in Self.excludedPrefixes {
                #expect(all.contains { $0.split(separator: " ")[1].hasPrefix(exclusion.prefix) },
                        "the exclusion \(exclusion.prefix) (\(exclusion.why)) matches no route any more: remove it")
            }
        }
    }

    @Test("each operation's description names the role it needs; /api operations answer 401, 403 and 422")
    func descriptionsNameTheRole() async throws {
        try await withMoeenApp { app in
            let document = try await Self.served(app)
            for (key, operation) in Self.operations(document).sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
                let description = operation["description"] as? String ?? ""
                let segments = parts[1].split(separator: "/").map(String.init)
                if segments.first == "api" {
                    let apiSegments = segments.dropFirst().map { $0.hasPrefix("{") ? "*" : $0 }
                    guard let role = APIRoleTable.role(HTTPMethod(rawValue: parts[0]), apiSegments) else {
                        Issue.record("\(key) has no rule in APIRoleTable (RouteTableTests.swift)")
                        continue
                    }
                    #expect(description.hasPrefix("Role: \(role.rawValue)"),
                            "\(key): the description must start with \"Role: \(role.rawValue)\" (got \"\(description.prefix(60))\")")
                    let responses = operation["responses"] as? [String: Any] ?? [:]
                    // Every /api operation checks credentials and role, and refuses U+0000 in a query parameter.
                    #expect(responses["401"] != nil && responses["403"] != nil && responses["422"] != nil,
                            "\(key) must list 401, 403 and 422")
                } else {
                    #expect(description.hasPrefix("Role: none"), "\(key): the description must start with \"Role: none\" (it needs no user)")
                }
            }
        }
    }

    @Test("every 4xx and 5xx answer uses the Error schema, and every $ref resolves")
    func errorsAndReferences() async throws {
        try await withMoeenApp { app in
            let document = try await Self.served(app)
            var references: [String] = []
            Self.collectReferences(document, into: &references)
            #expect(!references.isEmpty)
            for reference in Set(references).sorted() {
                #expect(Self.resolve(reference, in: document) != nil, "\(reference) does not resolve")
            }
            for (key, operation) in Self.operations(document) {
                for (status, answer) in operation["responses"] as? [String: Any] ?? [:] {
                    guard let code = Int(status), code >= 400, Self.nonErrorShapedAnswers["\(key) \(status)"] == nil else { continue }
                    var response = answer as? [String: Any] ?? [:]
                    if let reference = response["$ref"] as? String {
                        response = Self.resolve(reference, in: document) as? [String: Any] ?? [:]
                    }
                    let content = response["content"] as? [String: Any] ?? [:]
                    let schema = (content["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    #expect(schema?["$ref"] as? String == "#/components/schemas/Error",
                            "\(key) \(status) must answer application/json with #/components/schemas/Error")
                }
            }
        }
    }

    /// Every `$ref` value anywhere in the tree.
    static func collectReferences(_ node: Any, into references: inout [String]) {
        if let object = node as? [String: Any] {
            for (key, value) in object {
                if key == "$ref", let reference = value as? String { references.append(reference) } else {
                    collectReferences(value, into: &references)
                }
            }
        } else if let array = node as? [Any] {
            for value in array { collectReferences(value, into: &references) }
        }
    }

    /// The node a local reference (`#/components/schemas/Error`) points at, or `nil`.
    static func resolve(_ reference: String, in document: [String: Any]) -> Any? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Any = document
        for raw in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let object = node as? [String: Any], let next = object[key] else { return nil }
            node = next
        }
        return node
    }
}
