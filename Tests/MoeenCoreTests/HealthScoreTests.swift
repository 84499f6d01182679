import Foundation
import MoeenCore
import Testing

@Suite("Health score")
struct HealthScoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("never tested is 0; all fast successes are 100; all failures are 0")
    func extremes() {
        #expect(HealthScore.compute(results: [], now: now) == 0)
        let good = (0..<5).map { (at: now.addingTimeInterval(Double(-$0) * 300), success: true, durationMs: 150) }
        #expect(HealthScore.compute(results: good, now: now) == 100)
        let bad = good.map { (at: $0.at, success: false, durationMs: $0.durationMs) }
        #expect(HealthScore.compute(results: bad, now: now) == 0)
    }

    @Test("a recent failure weighs more than an old one")
    func recency() {
        let recentFailure = [(at: now, success: false, durationMs: 100),
                             (at: now.addingTimeInterval(-7200), success: true, durationMs: 100)]
        let oldFailure = [(at: now.addingTimeInterval(-7200), success: false, durationMs: 100),
                          (at: now, success: true, durationMs: 100)]
        // Weights 1 and 0.25: 100·0.25/1.25 = 20; 100·1/1.25 = 80.
        #expect(HealthScore.compute(results: recentFailure, now: now) == 20)
        #expect(HealthScore.compute(results: oldFailure, now: now) == 80)
    }

    @Test("slow answers lose up to 10 points")
    func latency() {
        #expect(HealthScore.compute(results: [(at: now, success: true, durationMs: 2000)], now: now) == 100)
        #expect(HealthScore.compute(results: [(at: now, success: true, durationMs: 6000)], now: now) == 95)
        #expect(HealthScore.compute(results: [(at: now, success: true, durationMs: 60000)], now: now) == 90)
    }

    @Test("only the 20 most recent results count")
    func window() {
        var results = (0..<20).map { (at: now.addingTimeInterval(Double(-$0)), success: true, durationMs: 10) }
        results += (0..<50).map { (at: now.addingTimeInterval(Double(-100 - $0)), success: false, durationMs: 10) }
        #expect(HealthScore.compute(results: results, now: now) == 100)
    }
}
