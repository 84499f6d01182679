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

    @Test("delivery outcomes count: the mean of the test score and the delivery score")
    func deliveries() {
        let tests = [(at: now, success: true, durationMs: 100)]
        // No attempts in the last 24 hours: the test score alone.
        let old = [(at: now.addingTimeInterval(-25 * 3600), success: false)]
        #expect(HealthScore.compute(tests: tests, deliveries: old, now: now) == 100)
        #expect(HealthScore.compute(tests: tests, deliveries: [], now: now) == 100)
        // Every recent attempt failed: (100 + 0) / 2.
        let failing = (0..<5).map { (at: now.addingTimeInterval(Double(-$0)), success: false) }
        #expect(HealthScore.compute(tests: tests, deliveries: failing, now: now) == 50)
        // Recency weights as for tests: a fresh failure and a success two hours old → 20; mean with 100 → 60.
        let mixed = [(at: now, success: false), (at: now.addingTimeInterval(-7200), success: true)]
        #expect(HealthScore.compute(tests: tests, deliveries: mixed, now: now) == 60)
        // Attempts but never tested: the delivery score alone.
        #expect(HealthScore.compute(tests: [], deliveries: [(at: now, success: true)], now: now) == 100)
        #expect(HealthScore.compute(tests: [], deliveries: [], now: now) == 0)
    }
}
