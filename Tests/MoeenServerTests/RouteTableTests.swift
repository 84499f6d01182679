import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// API.md's role table, written out independently of the controllers: the least role each `/api` route
/// needs. Reading is open to every role (viewer is read-only), except alert rules; writing integration
/// configs, users, keys, settings and alert rules is admin only; running tests and acknowledging alerts
/// and retrying or cancelling messages need a manager; sending messages and keeping CRM and care data needs staff.
enum APIRoleTable {
    struct Rule {
        /// `nil`: any method. Otherwise only this one (`GET` rules also cover `HEAD`).
        let unsafe: Bool?
        /// Path segments after `api`; `*` is one parameter, a trailing `**` any rest (or none).
        let pattern: [String]
        let role: UserRole
    }

    static let rules: [Rule] = [
        Rule(unsafe: nil, pattern: ["alert-rules", "**"], role: .admin),
        Rule(unsafe: nil, pattern: ["users", "**"], role: .admin),
        Rule(unsafe: nil, pattern: ["keys", "**"], role: .admin),
        Rule(unsafe: false, pattern: ["**"], role: .viewer),
        Rule(unsafe: true, pattern: ["integrations", "test"], role: .manager),
        Rule(unsafe: true, pattern: ["integrations", "*", "test"], role: .manager),
        Rule(unsafe: true, pattern: ["integrations", "**"], role: .admin),
        Rule(unsafe: true, pattern: ["settings", "**"], role: .admin),
        Rule(unsafe: true, pattern: ["alerts", "*", "acknowledge"], role: .manager),
        Rule(unsafe: true, pattern: ["messages", "*", "retry"], role: .manager),
        Rule(unsafe: true, pattern: ["messages", "*", "cancel"], role: .manager),
        Rule(unsafe: true, pattern: ["messages", "**"], role: .staff),
        Rule(unsafe: true, pattern: ["opt-outs", "**"], role: .staff),
        Rule(unsafe: true, pattern: ["crm", "**"], role: .staff),
        Rule(unsafe: true, pattern: ["patients", "**"], role: .staff),
        Rule(unsafe: true, pattern: ["training-programs", "**"], role: .staff),
        Rule(unsafe: true, pattern: ["resources", "**"], role: .staff),
    ]

    /// The least role for `method` on `path` (the segments after `api`, parameters as `*`), or `nil` when
    /// the table has no rule for it.
    static func role(_ method: HTTPMethod, _ path: [String]) -> UserRole? {
        let unsafe = CSRFProtection.isUnsafe(method)
        return rules.first { rule in
            (rule.unsafe == nil || rule.unsafe == unsafe) && matches(rule.pattern, path)
        }?.role
    }

    static func matches(_ pattern: [String], _ path: [String]) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" { return true }
        guard let segment = path.first, head == "*" || head == segment else { return false }
        return matches(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }
}

@Suite("Route table")
struct RouteTableTests {
    /// Every `/api` route: its method, its path as a request path, and its segments after `api`.
    static func apiRoutes(_ app: Application) -> [(method: HTTPMethod, path: String, segments: [String])] {
        app.routes.all.filter { $0.path.first?.description == "api" }.map { route in
            let segments = route.path.dropFirst().map { component -> String in
                if case .parameter = component { return "*" }
                return component.description
            }
            let path = route.path.map { component -> String in
                if case .parameter = component { return "int_20260101_00000000" }
                return component.description
            }.joined(separator: "/")
            return (route.method, path, Array(segments))
        }
    }

    @Test("the role table of API.md has a rule for every /api route")
    func tableCoversEveryRoute() async throws {
        try await withMoeenApp { app in
            let routes = Self.apiRoutes(app)
            #expect(routes.count >= 10)
            for route in routes {
                #expect(APIRoleTable.role(route.method, route.segments) != nil,
                        "\(route.method) /\(route.path) is not in API.md's role table: add it there and to APIRoleTable")
            }
        }
    }

    @Test("every /api route against API.md's role table: 401 without credentials, 403 below its role, neither at or above",
          arguments: [UserRole?.none, .viewer, .staff, .manager, .admin])
    func everyRouteForEveryCaller(caller: UserRole?) async throws {
        try await withMoeenApp { app in
            var auth: String?
            if let caller { auth = try await app.bearer(role: caller) }
            for route in Self.apiRoutes(app) {
                guard let needed = APIRoleTable.role(route.method, route.segments) else { continue }
                var headers: HTTPHeaders = ["Content-Type": "application/json"]
                if let auth { headers.add(name: .authorization, value: auth) }
                let res = try await app.testing().sendRequest(route.method, route.path, headers: headers) { req in
                    if route.method != .GET { req.body = ByteBuffer(string: "{}") }
                }
                let who = caller?.rawValue ?? "no credentials"
                let what = "\(route.method) /\(route.path) (needs \(needed.rawValue)) answered \(res.status.code) to \(who)"
                switch caller {
                case nil:
                    #expect(res.status == .unauthorized, "\(what)")
                case let role? where !role.isAtLeast(needed):
                    #expect(res.status == .forbidden, "\(what)")
                    #expect(try errorCode(res) == "forbidden", "\(what)")
                default:
                    #expect(res.status != .unauthorized && res.status != .forbidden, "\(what)")
                }
            }
        }
    }
}
