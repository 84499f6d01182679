import Foundation
import Vapor

/// Failed sign-ins per client address, in process memory: after `limit` failures within `window`, further
/// attempts from that address are refused (429) until the oldest failure ages out. A success clears the
/// address. Memory stays small: at most `capacity` addresses are tracked; the stalest is dropped first.
/// (Per process: with several `moeen serve` processes each keeps its own count, which only loosens the
/// limit by that factor.)
actor LoginRateLimiter {
    let limit: Int
    let window: TimeInterval
    let capacity: Int
    private var failures: [String: [Date]] = [:]

    init(limit: Int = 5, window: TimeInterval = 15 * 60, capacity: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// Seconds until the address may try again, or `nil` when it may try now.
    func retryAfter(_ address: String, now: Date = Date()) -> Int? {
        let recent = prune(address, now: now)
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        return max(1, Int((oldest.addingTimeInterval(window).timeIntervalSince(now)).rounded(.up)))
    }

    func recordFailure(_ address: String, now: Date = Date()) {
        var recent = prune(address, now: now)
        recent.append(now)
        if failures[address] == nil, failures.count >= capacity, let stalest = failures.min(by: { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) })?.key {
            failures[stalest] = nil
        }
        failures[address] = recent
    }

    func recordSuccess(_ address: String) {
        failures[address] = nil
    }

    private func prune(_ address: String, now: Date) -> [Date] {
        let recent = (failures[address] ?? []).filter { now.timeIntervalSince($0) < window }
        failures[address] = recent.isEmpty ? nil : recent
        return recent
    }
}

extension Application {
    private struct LoginRateLimiterKey: StorageKey { typealias Value = LoginRateLimiter }

    var loginRateLimiter: LoginRateLimiter {
        get {
            // Set by `configure`; created on first use for bare test applications.
            if let existing = storage[LoginRateLimiterKey.self] { return existing }
            let created = LoginRateLimiter()
            storage[LoginRateLimiterKey.self] = created
            return created
        }
        set { storage[LoginRateLimiterKey.self] = newValue }
    }
}
