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

    /// Points off for one successful answer that took `durationMs` (0…10).
    public static func latencyPenalty(durationMs: Int) -> Double {
        min(10, max(0, Double(durationMs - 2000) / 800))
    }
}
