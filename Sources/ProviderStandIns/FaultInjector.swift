import Foundation

/// Holds the current `FaultPlan`, draws each request's fault, and holds the requests it hangs.
public actor FaultInjector {
    public private(set) var plan = FaultPlan.none
    private var hung: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var random: any RandomNumberGenerator & Sendable

    /// `random` decides which requests get a fault; inject a `SeededRandom` for a repeatable sequence.
    public init(random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.random = random
    }

    /// Replaces the plan; clearing `hang` (and `hangRate`) releases the requests being held.
    public func set(_ plan: FaultPlan) {
        self.plan = plan
        if !plan.hang, plan.hangRate == 0 { releaseAll() }
    }

    /// No faults; hung requests are released.
    public func clear() { set(.none) }

    /// Draws from a `SeededRandom` with `seed` from now on.
    public func reseed(_ seed: UInt64) { random = SeededRandom(seed: seed) }

    /// How many requests are being held by a hang right now.
    public var hungCount: Int { hung.count }

    /// The recipients sends are refused for (not limited by `remaining`).
    public var rejectRecipients: Set<String> { plan.rejectRecipients }

    /// The plan for the next request and its fault, if any: one draw per request, counting down `remaining`.
    public func next() -> (plan: FaultPlan, fault: Fault?) {
        let current: FaultPlan
        if let remaining = plan.remaining {
            guard remaining > 0 else { return (.none, nil) }
            current = plan
            plan.remaining = remaining - 1
        } else {
            current = plan
        }
        let draw = Double(random.next() >> 11) * 0x1p-53  // 53 random bits: uniform in 0..<1
        return (current, current.fault(forDraw: draw))
    }

    /// Suspends until the hang is cleared, the stand-in shuts down or `limit` passes.
    func hang(for limit: Duration?) async {
        let id = UUID()
        await withCheckedContinuation { continuation in
            hung[id] = continuation
            if let limit {
                Task { [weak self] in
                    try? await Task.sleep(for: limit)
                    await self?.release(id)
                }
            }
        }
    }

    private func release(_ id: UUID) {
        hung.removeValue(forKey: id)?.resume()
    }

    func releaseAll() {
        let waiting = hung
        hung.removeAll()
        for continuation in waiting.values { continuation.resume() }
    }
}
