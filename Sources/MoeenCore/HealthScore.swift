import Foundation

/// The 0–100 health score of an integration, from its recent test and delivery outcomes.
///
/// Formula:
/// - No results → **0** (never tested).
/// - Take the **20 most recent** results. Each has weight `w = 0.5^(age / 1 h)` (half-life
///   one hour; results dated in the future count as age 0).
/// - Success ratio `r = Σ w·success / Σ w`.
/// - Latency penalty `p = Σ w·slow / Σ w` over the *successful* results, where
///   `slow = clamp((durationMs − 2000) / 800, 0, 10)`: nothing up to 2 s, one point per
///   further 0.8 s, at most 10 points (reached at 10 s).
/// - Score `= round(100·r − p)`, clamped to 0…100.
///
/// So one fresh failure among older successes pulls the score down hard, old failures fade,
/// and slow-but-working providers lose at most 10 points.
///
/// **Delivery outcomes count too** (`compute(tests:deliveries:now:)`): the dispatcher's attempts of the
/// last 24 hours — a send the provider accepted is a success; a retryable failure (5xx, 429, timeout,
/// dropped connection) or a message given up as dead is a failure; a permanent refusal of one message
/// (a bad number, an opted-out recipient) says nothing about the integration and is left out. The 20 most
/// recent of them get the same recency weights (no latency penalty), and the score is the **mean of the
/// test score and the delivery score**; with no attempts in the window it is the test score alone, and with
/// attempts but no test yet, the delivery score alone.
public enum HealthScore {
    /// How many of the most recent results count.
    public static let window = 20
    /// Half-life of a result's weight, in seconds.
    public static let halfLife: TimeInterval = 3600

    /// The score for `results` (any order) as of `now`.
    public static func compute(results: [(at: Date, success: Bool, durationMs: Int)], now: Date) -> Int {
        guard !results.isEmpty else { return 0 }
        let recent = results.sorted { $0.at > $1.at }.prefix(window)
        var totalWeight = 0.0
        var successWeight = 0.0
        var slowWeighted = 0.0
        var successOnlyWeight = 0.0
        for result in recent {
            let age = max(0, now.timeIntervalSince(result.at))
            let weight = pow(0.5, age / halfLife)
            totalWeight += weight
            if result.success {
                successWeight += weight
                successOnlyWeight += weight
                slowWeighted += weight * latencyPenalty(durationMs: result.durationMs)
            }
        }
        guard totalWeight > 0 else { return 0 }
        let ratio = successWeight / totalWeight
        let penalty = successOnlyWeight > 0 ? slowWeighted / successOnlyWeight : 0
        let score = (100 * ratio - penalty).rounded()
        return Int(min(100, max(0, score)))
    }

    /// The score from recent tests and recent delivery attempts (see the type's documentation).
    public static func compute(
        tests: [(at: Date, success: Bool, durationMs: Int)],
        deliveries: [(at: Date, success: Bool)],
        now: Date
    ) -> Int {
        let recentDeliveries = deliveries.filter { now.timeIntervalSince($0.at) <= deliveryHorizon }
        guard !recentDeliveries.isEmpty else { return compute(results: tests, now: now) }
        let delivery = compute(results: recentDeliveries.map { (at: $0.at, success: $0.success, durationMs: 0) }, now: now)
        guard !tests.isEmpty else { return delivery }
        let test = compute(results: tests, now: now)
        return Int((Double(test + delivery) / 2).rounded())
    }

    /// How far back delivery attempts count, in seconds (24 hours).
    public static let deliveryHorizon: TimeInterval = 24 * 3600

    /// Points off for one successful answer that took `durationMs` (0…10).
    public static func latencyPenalty(durationMs: Int) -> Double {
        min(10, max(0, Double(durationMs - 2000) / 800))
    }
}
