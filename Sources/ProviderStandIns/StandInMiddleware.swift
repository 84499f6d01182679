import Vapor

/// Records each provider request, draws its fault from the plan, logs send attempts with their answers,
/// then answers with the fault or lets the route answer. The control API (`/_standin/…`) passes untouched.
struct StandInMiddleware: AsyncMiddleware {
    let recorder: RequestRecorder
    let faults: FaultInjector
    let sends: SendLog
    /// The provider's own shape for an error answer of `status` (with the `Retry-After` seconds of a 429).
    let errorResponse: @Sendable (HTTPStatus, Int?) -> Response
    /// The message a send request carries; `nil` for every other request (probes, token calls…).
    let sendKey: @Sendable (Request) -> SendKey?

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if StandInControl.owns(request.url.path) { return try await next.respond(to: request) }
        let body = try await request.body.collect(max: 1 << 20).get()
        await recorder.append(RecordedRequest(
            method: request.method.rawValue,
            path: request.url.path,
            query: request.url.query,
            headers: request.headers.map { ($0.name, $0.value) },
            body: body.map { String(buffer: $0) } ?? ""))
        var (plan, fault) = await faults.next()
        guard let key = sendKey(request) else {
            return try await answer(request, plan: plan, fault: fault, next: next)
        }
        // A rejected recipient is refused by the provider's own logic every time, never by an injected fault,
        // so a drill can count its attempts exactly.
        if let to = key.to?.lowercased(), await faults.rejectRecipients.contains(where: { $0.lowercased() == to }) {
            fault = nil
        }
        let seq = await sends.begin(key, fault: fault)
        request.storage[SendAttemptKey.self] = seq
        let response: Response
        do {
            response = try await answer(request, plan: plan, fault: fault, next: next)
        } catch {
            let status = (error as? any AbortError)?.status ?? .internalServerError
            await sends.finish(seq, status: Int(status.code), retryAfter: nil)
            throw error
        }
        await sends.finish(seq, status: Int(response.status.code),
                           retryAfter: response.headers.first(name: "Retry-After").flatMap { Int($0) })
        return response
    }

    private func answer(_ request: Request, plan: FaultPlan, fault: Fault?, next: any AsyncResponder) async throws
        -> Response
    {
        if plan.latency > .zero { try await Task.sleep(for: plan.latency) }
        switch fault {
        case nil:
            return try await next.respond(to: request)
        case .hang?:
            await faults.hang(for: plan.hangFor)
            return try await next.respond(to: request)
        case .rateLimit?:
            let response = errorResponse(.tooManyRequests, plan.rateLimitRetryAfter)
            if let seconds = plan.rateLimitRetryAfter {
                response.headers.replaceOrAdd(name: "Retry-After", value: String(seconds))
            }
            return response
        case .serverError?:
            return errorResponse(.serviceUnavailable, nil)
        case .drop?:
            return Response(status: .ok, headers: ["Content-Type": "application/json"], body: .init(asyncStream: { writer in
                // Both writes are attempted whatever the client did meanwhile: a stream writer must end with
                // `.end` or `.error`, even when the client has already hung up.
                _ = try? await writer.write(.buffer(ByteBuffer(string: "{\"partial\":")))
                _ = try? await writer.write(.error(Abort(.internalServerError, reason: "connection dropped by fault injection")))
            }, count: 512))
        }
    }
}
