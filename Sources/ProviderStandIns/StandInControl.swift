import Foundation
import MoeenCore
import Vapor

/// The stand-ins' own control API — test-only, part of no provider's API, served by every stand-in under
/// `/_standin/`, never recorded as a provider request and never subject to faults:
///
/// | method and path | answer |
/// |---|---|
/// | `GET /_standin/faults` | the current fault plan (JSON form of `FaultPlan`) |
/// | `PUT /_standin/faults` | replaces the plan: `{"error_rate": 0.2, "rate_limit_rate": 0.1, "rate_limit_retry_after": 1, "hang_rate": 0.05, "hang_for": "3s", "drop_rate": 0.05, "reject_recipients": ["+966500000009"], "seed": 7}`; absent keys are no fault, `{}` clears; `seed` makes the draws repeatable; 422 for an unknown key or a bad value |
/// | `GET /_standin/sends[?after=SEQ]` | `{"data": [{seq, provider_id, to, text, at}]}`: accepted sends |
/// | `GET /_standin/attempts[?after=SEQ]` | `{"data": [{seq, at, answered_at, to, text, status, retry_after, fault, provider_id}]}`: every send request and its answer |
/// | `GET /_standin/stats` | `{requests, attempts, sends, hung, statuses: {"201": n, "429": n, "pending": n}, faults: {"rate_limit": n…}}` |
/// | `POST /_standin/reset` | forgets recorded requests, attempts and sends (the plan stays); 204 |
///
/// Times are seconds since 1970 (fractional) on the stand-in's machine. `after` pages on by attempt `seq`.
enum StandInControl {
    static let prefix = "/_standin"

    /// Whether `path` belongs to the control API.
    static func owns(_ path: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + "/")
    }

    static func register(on app: Application, faults: FaultInjector, recorder: RequestRecorder, sends: SendLog) {
        let control = app.grouped("_standin")
        control.get("faults") { _ async -> Response in
            Reply.json(.ok, await faults.plan.json)
        }
        control.put("faults") { request async -> Response in
            guard let body = request.body.data, let json = JSONValue.parse(body.readableBytesView) else {
                return problem(.badRequest, "the body must be a JSON object")
            }
            let plan: FaultPlan
            do throws(FaultPlan.JSONError) {
                plan = try FaultPlan(json: json, ignoring: ["seed"])
            } catch {
                return problem(.unprocessableEntity, error.description)
            }
            switch json["seed"] {
            case nil, .null?: break
            case .number(let text)? where UInt64(text) != nil: await faults.reseed(UInt64(text) ?? 0)
            default: return problem(.unprocessableEntity, "seed must be a whole number from 0")
            }
            await faults.set(plan)
            return Reply.json(.ok, plan.json)
        }
        control.get("sends") { request async -> Response in
            let after = request.query[Int.self, at: "after"]
            return encoded(Page(data: await sends.sends(after: after)))
        }
        control.get("attempts") { request async -> Response in
            let after = request.query[Int.self, at: "after"]
            return encoded(Page(data: Array(await sends.attempts(after: after))))
        }
        control.get("stats") { _ async -> Response in
            let stats = await sends.stats
            return Reply.json(.ok, [
                "requests": .number(await recorder.count),
                "attempts": .number(stats.attempts),
                "sends": .number(stats.sends),
                "hung": .number(await faults.hungCount),
                "statuses": .object(stats.statuses.mapValues { .number($0) }),
                "faults": .object(stats.faults.mapValues { .number($0) }),
            ])
        }
        control.post("reset") { _ async -> Response in
            await recorder.reset()
            await sends.reset()
            return Response(status: .noContent)
        }
    }

    struct Page<Item: Encodable>: Encodable {
        var data: [Item]
    }

    static func encoded(_ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return problem(.internalServerError, "could not encode") }
        return Response(status: .ok, headers: ["Content-Type": "application/json; charset=utf-8"], body: .init(data: data))
    }

    static func problem(_ status: HTTPStatus, _ message: String) -> Response {
        Reply.json(status, ["error": .string(message)])
    }
}
