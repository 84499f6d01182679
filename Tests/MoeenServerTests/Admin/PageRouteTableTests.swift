import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

/// The admin pages' role table (API.md "Admin pages"), written out independently of the controllers as
/// `APIRoleTable` is for `/api`: every signed-in role reads the settings tabs; Users and Security are for
/// admins; a manager runs tests and retries or cancels messages; staff add and remove opt-outs (as
/// `POST/DELETE /api/opt-outs`); changing integrations, users and the quiet hours is admin only. The inbound
/// replies (as `GET /api/inbound-messages`) and the webhook events on an integration's page are read by every role.
enum PageRoleTable {
    typealias Rule = APIRoleTable.Rule

    static let rules: [Rule] = [
        Rule(unsafe: nil, pattern: ["settings", "users", "**"], role: .admin),
        Rule(unsafe: nil, pattern: ["settings", "security"], role: .admin),
        Rule(unsafe: true, pattern: ["settings", "delivery"], role: .admin),
        Rule(unsafe: true, pattern: ["settings", "messages", "opt-outs"], role: .staff),
        Rule(unsafe: true, pattern: ["settings", "messages", "opt-outs", "*", "remove"], role: .staff),
        Rule(unsafe: true, pattern: ["settings", "integrations", "*", "test"], role: .manager),
        Rule(unsafe: true, pattern: ["settings", "integrations", "**"], role: .admin),
        Rule(unsafe: true, pattern: ["settings", "messages", "*", "retry"], role: .manager),
        Rule(unsafe: true, pattern: ["settings", "messages", "*", "cancel"], role: .manager),
        Rule(unsafe: true, pattern: ["settings", "alerts", "*", "acknowledge"], role: .manager),
        Rule(unsafe: true, pattern: ["settings", "alerts", "rules", "**"], role: .admin),
        Rule(unsafe: false, pattern: ["settings", "**"], role: .viewer),
    ]

    /// The least role for `method` on `path` (its segments, parameters as `*`), or `nil` without a rule.
    static func role(_ method: HTTPMethod, _ path: [String]) -> UserRole? {
        let unsafe = CSRFProtection.isUnsafe(method)
        return rules.first { rule in
            (rule.unsafe == nil || rule.unsafe == unsafe) && APIRoleTable.matches(rule.pattern, path)
        }?.role
    }
}

@Suite("Route table: admin pages")
struct PageRouteTableTests {
    /// Every `/settings` route: its method, a request path for it, and its segments.
    static func pageRoutes(_ app: Application) -> [(method: HTTPMethod, path: String, segments: [String])] {
        app.routes.all.filter { $0.path.first?.description == "settings" }.map { route in
            let segments = route.path.map { component -> String in
                if case .parameter = component { return "*" }
                return component.description
            }
            let path = route.path.map { component -> String in
                if case .parameter = component { return "int_20260101_00000000" }
                return component.description
            }.joined(separator: "/")
            return (route.method, "/" + path, segments)
        }
    }

    @Test("the pages' role table has a rule for every /settings route")
    func tableCoversEveryPage() async throws {
        try await withMoeenApp { app in
            let routes = Self.pageRoutes(app)
            #expect(routes.count >= 10)
            #expect(routes.contains { $0.method == .POST && $0.segments == ["settings", "messages", "*", "retry"] })
            #expect(routes.contains { $0.method == .POST && $0.segments == ["settings", "delivery"] })
            #expect(routes.contains { $0.method == .GET && $0.segments == ["settings", "messages", "opt-outs"] })
            #expect(routes.contains { $0.method == .POST && $0.segments == ["settings", "messages", "opt-outs"] })
            #expect(routes.contains { $0.method == .POST && $0.segments == ["settings", "messages", "opt-outs", "*", "remove"] })
            #expect(routes.contains { $0.method == .GET && $0.segments == ["settings", "messages", "inbound"] })
            #expect(PageRoleTable.role(.GET, ["settings", "messages", "inbound"]) == .viewer)
            #expect(!routes.contains { $0.method != .GET && $0.segments.starts(with: ["settings", "messages", "inbound"]) },
                    "the inbound replies are read-only")
            for route in routes {
                #expect(PageRoleTable.role(route.method, route.segments) != nil,
                        "\(route.method) \(route.path) is not in the pages' role table: add it to PageRoleTable")
            }
        }
    }

    @Test("every /settings route against the pages' role table: signed out to the sign-in page, the 403 page below its role, neither at or above",
          arguments: [UserRole?.none, .viewer, .staff, .manager, .admin])
    func everyPageForEveryCaller(caller: UserRole?) async throws {
        try await withMoeenApp { app in
            var browser: BrowserSession?
            if let caller { browser = try await app.browserSession(role: caller) }
            for route in Self.pageRoutes(app) {
                guard let needed = PageRoleTable.role(route.method, route.segments) else { continue }
                // A post carries the session's own CSRF token, so only the role can refuse it.
                let res = try await app.testing().sendRequest(route.method, route.path, headers: browser?.headers ?? [:]) { req in
                    if route.method != .GET { try req.content.encode(["csrf_token": browser?.csrf ?? ""], as: .urlEncodedForm) }
                }
                let who = caller?.rawValue ?? "signed out"
                let what = "\(route.method) \(route.path) (needs \(needed.rawValue)) answered \(res.status.code) to \(who)"
                let toSignIn = res.status == .seeOther && res.headers.first(name: .location)?.hasPrefix("/login") == true
                switch caller {
                case nil:
                    #expect(toSignIn, "\(what)")
                case let role? where !role.isAtLeast(needed):
                    #expect(res.status == .forbidden, "\(what)")
                    #expect(res.body.string.contains(Strings.text("forbidden_title", .ar)), "\(what)")
                default:
                    #expect(res.status != .forbidden && !toSignIn, "\(what)")
                }
            }
        }
    }
}
