import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("Route table")
struct RouteTableTests {
    @Test("every /api route refuses a caller without credentials (401), whatever the method")
    func everyAPIRouteNeedsCredentials() async throws {
        try await withMoeenApp { app in
            let routes = app.routes.all.filter { $0.path.first?.description == "api" }
            #expect(routes.count >= 10)
            for route in routes {
                let path = route.path.map { component -> String in
                    switch component {
                    case .parameter: "int_20260101_00000000"
                    default: component.description
                    }
                }.joined(separator: "/")
                try await app.testing().test(route.method, path, headers: ["Content-Type": "application/json"], beforeRequest: { req in
                    if route.method != .GET { req.body = ByteBuffer(string: "{}") }
                }) { res async throws in
                    #expect(res.status == .unauthorized, "\(route.method) /\(path) answered \(res.status.code)")
                }
            }
        }
    }

    @Test("a viewer may read but not write: every unsafe /api route answers 403")
    func viewerCannotWrite() async throws {
        try await withMoeenApp { app in
            let viewer = try await app.bearer(role: .viewer)
            let unsafe = app.routes.all.filter { $0.path.first?.description == "api" && $0.method != .GET }
            for route in unsafe {
                let path = route.path.map { component -> String in
                    if case .parameter = component { return "int_20260101_00000000" }
                    return component.description
                }.joined(separator: "/")
                try await app.testing().test(route.method, path, headers: .auth(viewer), beforeRequest: { req in
                    req.body = ByteBuffer(string: "{}")
                }) { res async throws in
                    #expect(res.status == .forbidden, "\(route.method) /\(path) answered \(res.status.code) to a viewer")
                }
            }
        }
    }
}
