import Vapor

/// Faults a stand-in injects, changeable while it runs.
public struct FaultPlan: Sendable, Equatable {
    /// Added before every answer.
    public var latency: Duration = .zero
    /// Share (0…1) of requests answered with the provider's 5xx error.
    public var errorRate: Double = 0
    /// When set, requests are answered 429 with this `Retry-After` (seconds).
    public var rateLimitRetryAfter: Int?
    /// Answer headers, then close the connection mid-body.
    public var dropConnection = false
    /// Never answer (until the fault is cleared or the stand-in shuts down).
    public var hang = false
    /// Apply the faults to this many more requests only (`nil`: all).
    public var remaining: Int?

    public init(latency: Duration = .zero, errorRate: Double = 0, rateLimitRetryAfter: Int? = nil,
                dropConnection: Bool = false, hang: Bool = false, remaining: Int? = nil) {
        self.latency = latency
        self.errorRate = errorRate
        self.rateLimitRetryAfter = rateLimitRetryAfter
        self.dropConnection = dropConnection
        self.hang = hang
        self.remaining = remaining
    }

    public static let none = FaultPlan()
}

/// Holds the current `FaultPlan` and the requests it is holding hung.
public actor FaultInjector {
    public private(set) var plan = FaultPlan.none
    private var hung: [UUID: CheckedContinuation<Void, Never>] = [:]

    public init() {}

    /// Replaces the plan; clearing `hang` releases the requests being held.
    public func set(_ plan: FaultPlan) {
        self.plan = plan
        if !plan.hang { releaseAll() }
    }

    /// No faults; hung requests are released.
    public func clear() { set(.none) }

    /// How many requests are being held by `hang` right now.
    public var hungCount: Int { hung.count }

    /// The plan for the next request (counting down `remaining`).
    func next() -> FaultPlan {
        guard let remaining = plan.remaining else { return plan }
        guard remaining > 0 else { return .none }
        let current = plan
        plan.remaining = remaining - 1
        return current
    }

    func hang() async {
        let id = UUID()
        await withCheckedContinuation { continuation in
            hung[id] = continuation
        }
    }

    func releaseAll() {
        let waiting = hung
        hung.removeAll()
        for continuation in waiting.values { continuation.resume() }
    }
}

/// Records each request, then applies the fault plan, then lets the route answer.
struct StandInMiddleware: AsyncMiddleware {
    let recorder: RequestRecorder
    let faults: FaultInjector
    /// The provider's own shape for an error answer of `status`.
    let errorResponse: @Sendable (HTTPStatus, Int?) -> Response

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let body = try await request.body.collect(max: 1 << 20).get()
        await recorder.append(RecordedRequest(
            method: request.method.rawValue,
            path: request.url.path,
            query: request.url.query,
            headers: request.headers.map { ($0.name, $0.value) },
            body: body.map { String(buffer: $0) } ?? ""))
        let plan = await faults.next()
        if plan.latency > .zero { try await Task.sleep(for: plan.latency) }
        if plan.hang {
            await faults.hang()
        }
        if let seconds = plan.rateLimitRetryAfter {
            let response = errorResponse(.tooManyRequests, seconds)
            response.headers.replaceOrAdd(name: "Retry-After", value: String(seconds))
            return response
        }
        if plan.errorRate > 0, Double.random(in: 0..<1) < plan.errorRate {
            return errorResponse(.serviceUnavailable, nil)
        }
        if plan.dropConnection {
            return Response(status: .ok, headers: ["Content-Type": "application/json"], body: .init(asyncStream: { writer in
                try await writer.write(.buffer(ByteBuffer(string: "{\"partial\":")))
                try await writer.write(.error(Abort(.internalServerError, reason: "connection dropped by fault injection")))
            }, count: 512))
        }
        return try await next.respond(to: request)
    }
}
