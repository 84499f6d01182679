import Vapor

/// A request whose path has routes, but none for its method, is 405 Method Not Allowed with an `Allow` header
/// naming the methods the path has (RFC 9110 §15.5.6), instead of the router's 404. A path no route matches
/// stays 404, and so does `OPTIONS` (the service offers no OPTIONS answers, e.g. for CORS).
struct MethodNotAllowedMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch let error as any AbortError where error.status == .notFound && request.route == nil && request.method != .OPTIONS {
            let allowed = Self.methods(for: request.url.path, in: request.application.routes.all)
            guard !allowed.isEmpty else { throw error }
            throw APIError(.methodNotAllowed, code: "method_not_allowed",
                           message: "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: ", ")).",
                           headers: ["Allow": allowed.joined(separator: ", ")])
        }
    }

    /// The methods of the routes matching `path` (GET routes also answer HEAD), in a stable order.
    static func methods(for path: String, in routes: [Route]) -> [String] {
        let segments = path.split(separator: "/").map(String.init)
        var methods = Set<String>()
        for route in routes where matches(route.path, segments[...]) {
            methods.insert(route.method.rawValue)
            if route.method == .GET { methods.insert(HTTPMethod.HEAD.rawValue) }
        }
        let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        return methods.sorted { (order.firstIndex(of: $0) ?? order.count, $0) < (order.firstIndex(of: $1) ?? order.count, $1) }
    }

    static func matches(_ pattern: [PathComponent], _ segments: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return segments.isEmpty }
        if case .catchall = head { return !segments.isEmpty }
        guard let segment = segments.first else { return false }
        switch head {
        case .constant(let text): guard text == segment else { return false }
        case .parameter, .anything: break
        case .catchall: return true
        }
        return matches(Array(pattern.dropFirst()), segments.dropFirst())
    }
}
