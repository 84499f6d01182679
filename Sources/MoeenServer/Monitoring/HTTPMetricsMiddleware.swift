import Vapor

/// Counts every HTTP request and times it, labelled with the matched route's template (`/api/messages/:id`),
/// never the raw path (which would carry ids and grow without bound); a request no route matched is
/// `unmatched`. Runs outermost, so the status is the one the client got after errors were rendered.
struct HTTPMetricsMiddleware: AsyncMiddleware {
    let metrics: MoeenMetrics

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next.respond(to: request)
            record(request, status: response.status.code, since: started)
            return response
        } catch {
            record(request, status: (error as? any AbortError)?.status.code ?? 500, since: started)
            throw error
        }
    }

    private func record(_ request: Request, status: UInt, since started: ContinuousClock.Instant) {
        metrics.httpRequest(route: Self.template(request.route), method: Self.method(request),
                            status: status, duration: ContinuousClock.now - started)
    }

    /// `/api/messages/:id` for the matched route, `unmatched` for none.
    static func template(_ route: Route?) -> String {
        guard let route else { return "unmatched" }
        return "/" + route.path.map(\.description).joined(separator: "/")
    }

    /// The standard methods by name; anything else (a client may send any token) is `other`.
    static func method(_ request: Request) -> String {
        let name = request.method.rawValue
        return standardMethods.contains(name) ? name : "other"
    }

    static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
}
