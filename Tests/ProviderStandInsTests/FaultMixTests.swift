import MoeenCore
import ProviderStandIns
import Testing

/// One random draw per request picks at most one fault; with a seeded source the mix is repeatable, so the
/// shares are checked over many draws without any timing.
@Suite("Fault mixes")
struct FaultMixTests {
    static let drillPlan = FaultPlan(errorRate: 0.2, rateLimitRetryAfter: 1, rateLimitRate: 0.1, dropRate: 0.05,
                                     hangRate: 0.05, hangFor: .seconds(3))

    func counts(_ injector: FaultInjector, draws: Int) async -> [Fault?: Int] {
        var counts: [Fault?: Int] = [:]
        for _ in 0..<draws { counts[await injector.next().fault, default: 0] += 1 }
        return counts
    }

    @Test("20 % 5xx, 10 % 429, 5 % hang, 5 % drop over 2,000 draws: each share within five standard deviations")
    func shares() async {
        let injector = FaultInjector(random: SeededRandom(seed: 2026))
        await injector.set(Self.drillPlan)
        let draws = 2_000
        let counts = await counts(injector, draws: draws)
        let expected: [(Fault?, Double)] = [(.serverError, 0.2), (.rateLimit, 0.1), (.hang, 0.05), (.drop, 0.05), (nil, 0.6)]
        for (fault, share) in expected {
            let mean = Double(draws) * share
            let bound = 5 * (mean * (1 - share)).squareRoot()
            let observed = Double(counts[fault] ?? 0)
            #expect(abs(observed - mean) <= bound, "\(String(describing: fault)): \(observed) of \(draws), expected \(mean) ± \(bound)")
        }
        #expect(counts.values.reduce(0, +) == draws)
    }

    @Test("the same seed gives the same faults; another seed another sequence")
    func repeatable() async {
        let first = FaultInjector(random: SeededRandom(seed: 7))
        let second = FaultInjector(random: SeededRandom(seed: 7))
        let other = FaultInjector(random: SeededRandom(seed: 8))
        var a: [Fault?] = [], b: [Fault?] = [], c: [Fault?] = []
        for injector in [first, second, other] { await injector.set(Self.drillPlan) }
        for _ in 0..<200 {
            a.append(await first.next().fault)
            b.append(await second.next().fault)
            c.append(await other.next().fault)
        }
        #expect(a == b)
        #expect(a != c)
        await first.reseed(7)
        #expect(await first.next().fault == a[0])
    }

    @Test("one draw falls into exactly one share, in the order hang, 429, 5xx, drop")
    func edges() {
        let plan = Self.drillPlan
        #expect(plan.fault(forDraw: 0) == .hang)
        #expect(plan.fault(forDraw: 0.049) == .hang)
        #expect(plan.fault(forDraw: 0.05) == .rateLimit)
        #expect(plan.fault(forDraw: 0.149) == .rateLimit)
        #expect(plan.fault(forDraw: 0.151) == .serverError)
        #expect(plan.fault(forDraw: 0.349) == .serverError)
        #expect(plan.fault(forDraw: 0.351) == .drop)
        #expect(plan.fault(forDraw: 0.399) == .drop)
        #expect(plan.fault(forDraw: 0.401) == nil)
        #expect(plan.fault(forDraw: 0.999) == nil)
        #expect(FaultPlan.none.fault(forDraw: 0) == nil)
    }

    @Test("the flags keep their meaning: every request, whatever the draw; remaining counts requests down")
    func flags() async {
        for draw in [0.0, 0.5, 0.999] {
            #expect(FaultPlan(rateLimitRetryAfter: 7).fault(forDraw: draw) == .rateLimit)
            #expect(FaultPlan(errorRate: 1).fault(forDraw: draw) == .serverError)
            #expect(FaultPlan(dropConnection: true).fault(forDraw: draw) == .drop)
            #expect(FaultPlan(hang: true).fault(forDraw: draw) == .hang)
        }
        #expect(FaultPlan(rateLimitRetryAfter: 7, rateLimitRate: 0).fault(forDraw: 0) == nil)

        let injector = FaultInjector(random: SeededRandom(seed: 1))
        await injector.set(FaultPlan(errorRate: 1, remaining: 2, rejectRecipients: ["+966500000009"]))
        #expect(await injector.next().fault == .serverError)
        #expect(await injector.next().fault == .serverError)
        #expect(await injector.next().fault == nil)
        #expect(await injector.rejectRecipients == ["+966500000009"], "rejections are not counted down")
    }

    @Test("the JSON form round-trips; unknown keys, rates outside 0…1 and shares above 1 are refused")
    func json() throws {
        let plan = FaultPlan(latency: .milliseconds(250), errorRate: 0.2, rateLimitRetryAfter: 1, rateLimitRate: 0.1,
                             dropRate: 0.05, hangRate: 0.05, hangFor: .seconds(3), remaining: 40,
                             rejectRecipients: ["+966500000009", "gone@example.org"])
        #expect(try FaultPlan(json: plan.json) == plan)
        #expect(try FaultPlan(json: [:]) == .none)
        let parsed = try FaultPlan(json: ["hang_for": "1.5s", "latency": "20ms", "rate_limit_retry_after": 2])
        #expect(parsed.hangFor == .milliseconds(1500))
        #expect(parsed.latency == .milliseconds(20))
        #expect(parsed.fault(forDraw: 0.5) == .rateLimit)

        let refused: [(JSONValue, String)] = [
            (["error_rte": .number("0.2")], "unknown fault setting error_rte"),
            (["error_rate": .number("1.5")], "error_rate must be between 0 and 1"),
            (["error_rate": .number("0.6"), "rate_limit_rate": .number("0.5")], "at most 1"),
            (["hang_for": 3], "hang_for must be a duration"),
            (["reject_recipients": "+966500000009"], "reject_recipients must be an array"),
            ([1, 2], "must be a JSON object"),
        ]
        for (json, message) in refused {
            let error = #expect(throws: FaultPlan.JSONError.self) { try FaultPlan(json: json) }
            #expect(error?.description.contains(message) == true, "\(String(describing: error)) for \(json)")
        }
    }
}
