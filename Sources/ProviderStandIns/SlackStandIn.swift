import Foundation
import MoeenCore
import Vapor

/// Slack incoming-webhook stand-in: `POST /services/{team}/{bot}/{secret}` → 200 `ok`,
/// plain-text errors (`invalid_payload`, `no_text`, `no_service`, `channel_is_archived`…).
public final class SlackStandIn: ProviderStandIn {
    /// Configurable webhook state.
    public actor State {
        /// The webhook's path; any other path is `no_service` (404).
        public var webhookPath = "/services/T00000000/B00000000/fakeWebhookSecret0000000"
        /// Answer `channel_is_archived` (410).
        public var archived = false
        /// Answer `invalid_token` (403), as Slack does for a webhook whose token was revoked.
        public var revoked = false
        /// Accepted posts (JSON bodies).
        public private(set) var posts: [JSONValue] = []

        /// Changes the state: `await standIn.state.update { $0.archived = true }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
        func record(_ body: JSONValue) { posts.append(body) }
    }

    public let type = IntegrationType.slack
    public let state = State()
    let core = StandInCore(name: "slack")
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }

    public init() {}

    public func start(port: Int) async throws -> URL {
        let state = state, sends = core.sends
        return try await core.start(port: port, errorResponse: { status, _ in
            status == .tooManyRequests ? Reply.text(.tooManyRequests, "rate_limited")
                : Reply.text(.internalServerError, "rollup_error")
        }, sendKey: { request in
            guard request.method == .POST, request.url.path.hasPrefix("/services/") else { return nil }
            return SendKey(to: nil, text: Reply.jsonBody(request)?["text"]?.stringValue)
        }) { app in
            app.post("services", "**") { request async -> Response in
                guard request.url.path == (await state.webhookPath) else { return Reply.text(.notFound, "no_service") }
                if await state.revoked { return Reply.text(.forbidden, "invalid_token") }
                if await state.archived { return Reply.text(.gone, "channel_is_archived") }
                guard let body = Reply.jsonBody(request), body.objectValue != nil else {
                    return Reply.text(.badRequest, "invalid_payload")
                }
                guard body["text"]?.stringValue?.isEmpty == false || body["blocks"]?.arrayValue?.isEmpty == false else {
                    return Reply.text(.badRequest, "no_text")
                }
                await state.record(body)
                await sends.accepted(request, providerID: "ok-" + Reply.hex(16))
                return Reply.text(.ok, "ok", contentType: "text/html")
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        [
            "webhook_url": baseURL.absoluteString + "/services/T00000000/B00000000/fakeWebhookSecret0000000",
            "channel": "#notifications",
            "signing_secret": "fake-slack-signing-secret",
        ]
    }
}
