import Crypto
import Foundation
import MoeenCore
import Vapor

/// `GET /metrics`: the Prometheus text exposition of this process's counters and histograms, followed by the
/// gauges read from the database at scrape time (`MetricsScrape`).
///
/// With `MOEEN_METRICS_TOKEN` set, the request must carry `Authorization: Bearer <token>` (compared in
/// constant time: both sides are hashed first, so not even the length is told); otherwise 401. Unset, the
/// endpoint is open — keep it off the public network then.
struct MetricsController: RouteCollection {
    /// Prometheus text format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    func boot(routes: any RoutesBuilder) throws {
        routes.get("metrics", use: scrape)
    }

    @Sendable
    func scrape(req: Request) async throws -> Response {
        guard Self.authorized(req.headers.bearerAuthorization?.token, expected: req.moeenConfiguration.metricsToken) else {
            throw APIError(.unauthorized, code: "unauthenticated",
                           message: "Send the metrics token (Authorization: Bearer <MOEEN_METRICS_TOKEN>).",
                           headers: ["WWW-Authenticate": "Bearer"])
        }
        let gauges = await MetricsScrape(db: req.db, logger: req.logger, now: Date()).render(timeout: req.metrics.scrapeTimeout)
        let body = req.metrics.registry.emitToString() + gauges
        return Response(status: .ok, headers: ["Content-Type": Self.contentType, "Cache-Control": "no-store"], body: .init(string: body))
    }

    /// Whether `presented` opens the endpoint: always when no token is configured.
    static func authorized(_ presented: String?, expected: String?) -> Bool {
        guard let expected else { return true }
        guard let presented else { return false }
        return WebhookSignatures.constantTimeEquals(
            Array(SHA256.hash(data: Array(presented.utf8))), Array(SHA256.hash(data: Array(expected.utf8))))
    }
}
