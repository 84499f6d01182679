/// When to try a failed delivery again: exponential back-off with full jitter, honouring a provider's
/// `Retry-After` (parsed by ``RetryAfter``), and a limit on attempts.
///
/// Full jitter (a uniform delay between zero and the exponential ceiling) spreads the retries of many messages
/// that failed together, so a provider that recovers is not hit by all of them at the same instant.
/// All arithmetic is checked: any attempt number, however large, gives a delay within bounds and never traps.
public struct RetryPolicy: Sendable, Hashable {
    /// The longest `Retry-After` honoured. A provider asking for more (or a misparsed date years ahead) is waited
    /// for this long instead, so one bad header cannot park a message for months.
    public static let maximumRetryAfter: Duration = .seconds(24 * 3600)

    /// Ceiling of the delay after the first failed attempt; doubles after each further failure.
    public let base: Duration
    /// Largest ceiling, whatever the attempt number. A `Retry-After` may still ask for longer.
    public let cap: Duration
    /// Attempts allowed in all, the first one included (at least 1).
    public let maxAttempts: Int

    /// A policy; negative durations count as zero and `maxAttempts` below 1 as 1.
    public init(base: Duration = .seconds(5), cap: Duration = .seconds(3600), maxAttempts: Int = 10) {
        self.base = max(base, .zero)
        self.cap = max(cap, .zero)
        self.maxAttempts = max(maxAttempts, 1)
    }

    /// The exponential ceiling after `attempt` failed attempts (1-based; values below 1 count as 1):
    /// `min(cap, base · 2^(attempt − 1))`, computed without overflow.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let exponent = max(attempt, 1) - 1
        let baseMilliseconds = Self.milliseconds(base)
        let capMilliseconds = Self.milliseconds(cap)
        guard baseMilliseconds > 0 else { return .zero }
        guard exponent < 63 else { return .milliseconds(capMilliseconds) }
        let (scaled, overflow) = baseMilliseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        return .milliseconds(overflow ? capMilliseconds : min(scaled, capMilliseconds))
    }

    /// How long to wait before the next attempt, after `attempt` attempts have failed.
    ///
    /// A whole number of milliseconds drawn uniformly from `[0, ceiling(afterAttempt: attempt)]`, but never less
    /// than `retryAfter` when the provider gave one (negative values count as zero, values above
    /// ``maximumRetryAfter`` as that maximum). Honouring the provider can exceed ``cap``; that is intended.
    public func delay(
        afterAttempt attempt: Int,
        retryAfter: Duration? = nil,
        random: inout some RandomNumberGenerator
    ) -> Duration {
        let ceilingMilliseconds = Self.milliseconds(ceiling(afterAttempt: attempt))
        let jitter = Duration.milliseconds(Int64(UInt64.random(in: 0...UInt64(ceilingMilliseconds), using: &random)))
        guard let retryAfter else { return jitter }
        let floor = min(max(retryAfter, .zero), Self.maximumRetryAfter)
        return max(jitter, floor)
    }

    /// ``delay(afterAttempt:retryAfter:random:)`` with the system's random number generator.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, retryAfter: retryAfter, random: &generator)
    }

    /// `true` once `attempts` attempts have been made and no further one is allowed.
    public func isExhausted(attempts: Int) -> Bool {
        attempts >= maxAttempts
    }

    /// Whole milliseconds in a non-negative duration, rounded down and clamped to `Int64.max`.
    private static func milliseconds(_ duration: Duration) -> Int64 {
        guard duration > .zero else { return 0 }
        guard duration < .milliseconds(Int64.max) else { return Int64.max }
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        guard !overflow else { return Int64.max }
        let (total, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return sumOverflow ? Int64.max : total
    }
}
