import MoeenCore
import Testing

/// SplitMix64: a tiny deterministic generator, so every run draws the same delays.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(base: .seconds(5), cap: .seconds(3600), maxAttempts: 10)

    @Test("ceiling doubles from base up to cap", arguments: [
        (0, Duration.seconds(5)),
        (1, .seconds(5)),
        (2, .seconds(10)),
        (3, .seconds(20)),
        (10, .seconds(2560)),
        (11, .seconds(3600)),
        (63, .seconds(3600)),
        (64, .seconds(3600)),
        (10_000, .seconds(3600)),
        (Int.max, .seconds(3600)),
        (-5, .seconds(5)),
        (Int.min, .seconds(5)),
    ])
    func ceiling(attempt: Int, expected: Duration) {
        #expect(policy.ceiling(afterAttempt: attempt) == expected)
    }

    @Test("delays stay within [0, ceiling] for many attempts", arguments: [1, 7, 42])
    func bounds(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for attempt in 1...80 {
            let ceiling = policy.ceiling(afterAttempt: attempt)
            #expect(ceiling <= policy.cap)
            for _ in 0..<50 {
                let delay = policy.delay(afterAttempt: attempt, retryAfter: nil, random: &random)
                #expect(delay >= .zero && delay <= ceiling)
                #expect(delay.components.attoseconds % 1_000_000_000_000_000 == 0)
            }
        }
    }

    @Test("delays spread over the whole range (full jitter)")
    func distribution() {
        var random = SplitMix64(seed: 2024)
        let draws = (0..<2000).map { _ in policy.delay(afterAttempt: 20, retryAfter: nil, random: &random) }
        #expect(draws.allSatisfy { $0 >= .zero && $0 <= .seconds(3600) })
        #expect(draws.contains { $0 < .seconds(360) })
        #expect(draws.contains { $0 > .seconds(3240) })
        let lowerHalf = draws.filter { $0 < .seconds(1800) }.count
        #expect((800...1200).contains(lowerHalf))
    }

    @Test("same seed, same delays")
    func deterministic() {
        var first = SplitMix64(seed: 99)
        var second = SplitMix64(seed: 99)
        let a = (1...10).map { policy.delay(afterAttempt: $0, random: &first) }
        let b = (1...10).map { policy.delay(afterAttempt: $0, random: &second) }
        #expect(a == b)
    }

    @Test("Retry-After is a floor")
    func retryAfterFloor() {
        var random = SplitMix64(seed: 5)
        for attempt in 1...30 {
            let delay = policy.delay(afterAttempt: attempt, retryAfter: .seconds(30), random: &random)
            #expect(delay >= .seconds(30))
            #expect(delay <= max(.seconds(30), policy.ceiling(afterAttempt: attempt)))
        }
        // Above the cap: honoured, even though jitter alone never goes that high.
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(7200), random: &random) == .seconds(7200))
        // Sub-millisecond precision in the hint is not rounded away.
        #expect(policy.delay(afterAttempt: 1, retryAfter: .microseconds(5_000_500), random: &random) >= .microseconds(5_000_500))
    }

    @Test("Retry-After is bounded to 24 hours and never negative")
    func retryAfterBounds() {
        var random = SplitMix64(seed: 6)
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(400 * 86_400), random: &random) == RetryPolicy.maximumRetryAfter)
        #expect(RetryPolicy.maximumRetryAfter == .seconds(86_400))
        let negative = policy.delay(afterAttempt: 1, retryAfter: .seconds(-10), random: &random)
        #expect(negative >= .zero && negative <= .seconds(5))
        let zero = policy.delay(afterAttempt: 1, retryAfter: .zero, random: &random)
        #expect(zero >= .zero && zero <= .seconds(5))
    }

    @Test("exhaustion counts every attempt, the first included")
    func exhaustion() {
        #expect(!policy.isExhausted(attempts: 0))
        #expect(!policy.isExhausted(attempts: 9))
        #expect(policy.isExhausted(attempts: 10))
        #expect(policy.isExhausted(attempts: 11))
        #expect(policy.isExhausted(attempts: Int.max))
        #expect(!policy.isExhausted(attempts: -1))
        let once = RetryPolicy(maxAttempts: 0)
        #expect(once.maxAttempts == 1)
        #expect(!once.isExhausted(attempts: 0))
        #expect(once.isExhausted(attempts: 1))
    }

    @Test("huge attempt numbers and extreme settings never trap")
    func extremes() {
        var random = SplitMix64(seed: 10_000)
        #expect(policy.delay(afterAttempt: 10_000, retryAfter: nil, random: &random) <= .seconds(3600))
        #expect(policy.delay(afterAttempt: Int.max, retryAfter: .seconds(Int64.max), random: &random) == RetryPolicy.maximumRetryAfter)

        let enormous = RetryPolicy(base: .seconds(Int64.max), cap: .seconds(Int64.max), maxAttempts: Int.max)
        #expect(enormous.ceiling(afterAttempt: 10_000) == .milliseconds(Int64.max))
        #expect(enormous.delay(afterAttempt: 10_000, random: &random) <= .milliseconds(Int64.max))

        let zero = RetryPolicy(base: .zero, cap: .seconds(60))
        #expect(zero.delay(afterAttempt: 10_000, random: &random) == .zero)

        let negative = RetryPolicy(base: .seconds(-5), cap: .seconds(-1))
        #expect(negative.base == .zero && negative.cap == .zero)
        #expect(negative.delay(afterAttempt: 3, random: &random) == .zero)

        let tiny = RetryPolicy(base: .milliseconds(200), cap: .seconds(1))
        #expect(tiny.ceiling(afterAttempt: 3) == .milliseconds(800))
        #expect(tiny.ceiling(afterAttempt: 4) == .seconds(1))
    }

    @Test("system generator convenience stays in bounds")
    func systemGenerator() {
        for attempt in [1, 5, 50] {
            let delay = policy.delay(afterAttempt: attempt)
            #expect(delay >= .zero && delay <= policy.ceiling(afterAttempt: attempt))
        }
    }
}
