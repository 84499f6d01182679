import Foundation

/// An integration's sending ceiling (`rate_limit_per_second`, `rate_limit_burst`), and the arithmetic of the
/// generic cell rate algorithm (GCRA) that enforces it.
///
/// GCRA keeps one number per limited thing, the *theoretical arrival time* (TAT): when the next send would
/// be due if sends went out exactly at the rate. A send at `t` conforms when `TAT − t ≤ τ`, with the burst
/// tolerance `τ = (burst − 1) · T` and the emission interval `T = 1 / rate`; it moves `TAT` to
/// `max(TAT, t) + T`. Because the state is one number updated by one conditional statement, the database
/// can hold it and every process sharing the database obeys one limit.
public enum RateLimit: Sendable, Equatable, CustomStringConvertible {
    case unlimited
    /// `rate` sends per second (0 < rate ≤ 1000) with up to `burst` (1…1000) at once.
    case limited(rate: Double, burst: Int)

    public static let maximumRate = 1000.0
    public static let burstRange = 1...1000

    /// The settings' text forms: a decimal (`20`, `0.5`) or `unlimited`; a whole number for the burst.
    /// Returns the problems by field name when either is invalid.
    public static func parse(perSecond: String?, burst: String?, defaults: RateLimit) -> Result<RateLimit, Problems> {
        var problems: [String: String] = [:]
        var rate: Double?
        var unlimited = false
        if let text = perSecond?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if text.lowercased() == "unlimited" {
                unlimited = true
            } else if let value = Double(text), value.isFinite, value > 0, value <= maximumRate,
                      text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
                rate = value
            } else {
                problems["rate_limit_per_second"] = "must be a number of messages per second above 0 and at most 1000, or unlimited"
            }
        }
        var burstValue: Int?
        if let text = burst?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if let value = Int(text), burstRange.contains(value) {
                burstValue = value
            } else {
                problems["rate_limit_burst"] = "must be a whole number from 1 to 1000"
            }
        }
        guard problems.isEmpty else { return .failure(Problems(fields: problems)) }
        if unlimited { return .success(.unlimited) }
        switch defaults {
        case .unlimited:
            guard let rate else { return .success(.unlimited) }
            return .success(.limited(rate: rate, burst: burstValue ?? 1))
        case .limited(let defaultRate, let defaultBurst):
            return .success(.limited(rate: rate ?? defaultRate, burst: burstValue ?? defaultBurst))
        }
    }

    public struct Problems: Error, Sendable, Equatable {
        public let fields: [String: String]
    }

    /// The emission interval `T` in milliseconds (at least 1).
    public var intervalMilliseconds: Int64 {
        guard case .limited(let rate, _) = self else { return 0 }
        return max(1, Int64((1000.0 / rate).rounded()))
    }

    /// The burst tolerance `τ = (burst − 1) · T` in milliseconds.
    public var toleranceMilliseconds: Int64 {
        guard case .limited(_, let burst) = self else { return 0 }
        return Int64(burst - 1) * intervalMilliseconds
    }

    /// Where a send at `now` may go, given the stored `tat` (both in Unix milliseconds): the earliest
    /// conforming time (`max(now, TAT − τ)`), and the TAT after it. Reserving a later slot than `now` lets a
    /// sender wait for its turn instead of asking again and again.
    public func reserve(tat: Int64, now: Int64) -> (slot: Int64, newTAT: Int64) {
        guard case .limited = self else { return (now, tat) }
        let slot = max(now, tat - toleranceMilliseconds)
        return (slot, max(tat, slot) + intervalMilliseconds)
    }

    public var description: String {
        switch self {
        case .unlimited: "unlimited"
        case .limited(let rate, let burst): "\(rate)/s (burst \(burst))"
        }
    }
}
