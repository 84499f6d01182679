import Foundation
import MoeenCore

/// Slack incoming webhooks. The webhook URL is the credential, so it is never recorded whole.
public struct SlackConnector: MessageSender {
    public let type = IntegrationType.slack
    let context: ConnectorContext

    init(context: ConnectorContext) { self.context = context }

    /// Posts a short test message (an incoming webhook has no read-only check) → `ok`.
    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let response = try await post(&call, settings: settings,
                                          payload: ["text": "Moeen Hub: connection test ✅ / اختبار الاتصال"])
            let channel = settings["channel"] ?? "the webhook's channel"
            return ProbeResult(success: true, message: "Posted a test message to \(channel)", statusCode: response.status,
                               details: ["channel": .string(channel)])
        }
    }

    /// Posts an empty payload `{}`, which Slack refuses without posting: a live webhook answers 400 `no_text`
    /// (or `invalid_payload`), a removed or revoked one 404 `no_service` / 403 `invalid_token`, an archived
    /// channel 410 `channel_is_archived` (PROVIDERS.md, Slack's incoming-webhook errors). So the scheduled
    /// check proves the webhook is alive and posts nothing to the channel.
    public func scheduledProbe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let url = try settings.required("webhook_url")
            let response = try await call.send(
                OutboundRequest(method: "POST", url: url, headers: [HTTPHelpers.jsonContentType],
                                body: HTTPHelpers.json(.object([:]))),
                displayURL: Self.displayURL(url))
            let answer = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
            guard response.status == 400, Self.liveRefusals.contains(answer) else {
                // 200 would mean the empty payload was posted; anything else is the webhook's own error.
                if response.status == 200 {
                    throw ProviderError(kind: .permanent, category: .invalidResponse,
                                        message: "The webhook accepted an empty payload; it may not be a Slack incoming webhook",
                                        httpStatus: 200)
                }
                throw Self.error(from: response, now: context.now())
            }
            let channel = settings["channel"] ?? "the webhook's channel"
            return ProbeResult(success: true, message: "The webhook for \(channel) is live (nothing was posted)",
                               statusCode: response.status,
                               details: ["channel": .string(channel), "answer": .string(answer)])
        }
    }

    /// What a live webhook answers to `{}`.
    static let liveRefusals: Set<String> = ["no_text", "invalid_payload"]

    /// Posts `message.text` (the `to` field is ignored: the webhook decides the channel).
    public func send(_ message: ChannelMessage, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        guard let text = message.text, !text.isEmpty else { throw ProviderError.configuration("text is required") }
        return try await post(text: text, blocks: nil, config: config, timeout: timeout)
    }

    /// Posts `text` with optional Block Kit `blocks`.
    public func post(text: String, blocks: [JSONValue]?, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        let settings = try Settings(type: type, config: config)
        var call = context.makeCall(settings: settings, timeout: timeout)
        var payload: [String: JSONValue] = ["text": .string(text)]
        if let blocks { payload["blocks"] = .array(blocks) }
        let response = try await post(&call, settings: settings, payload: payload)
        return SendReceipt(providerMessageId: nil, statusCode: response.status, exchanges: call.exchanges)
    }

    private func post(_ call: inout ProviderCall, settings: Settings, payload: [String: JSONValue])
        async throws(ProviderError) -> InboundResponse
    {
        let url = try settings.required("webhook_url")
        let response = try await call.send(
            OutboundRequest(method: "POST", url: url, headers: [HTTPHelpers.jsonContentType],
                            body: HTTPHelpers.json(.object(payload))),
            displayURL: Self.displayURL(url))
        guard response.status == 200 else { throw Self.error(from: response, now: context.now()) }
        return response
    }

    /// `https://hooks.slack.com/services/…`: scheme, host and port only.
    static func displayURL(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host
        else { return Redactor.mask }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)/…"
    }

    /// Maps Slack's plain-text errors (`invalid_payload`, `channel_not_found`, `no_service`…).
    static func error(from response: InboundResponse, now: Date) -> ProviderError {
        let text = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        let code = text.isEmpty || text.count > 100 ? nil : text
        let message = code ?? "Slack answered HTTP \(response.status)"
        let retryAfter = HTTPHelpers.retryAfter(response, now: now)
        switch code {
        case "invalid_token", "no_service", "no_team", "team_disabled", "invalid_auth":
            return ProviderError(kind: .permanent, category: .credentials, message: message, code: code,
                                 httpStatus: response.status)
        case "channel_not_found", "channel_is_archived", "no_active_hooks":
            return ProviderError(kind: .permanent, category: .notFound, message: message, code: code,
                                 httpStatus: response.status)
        case "action_prohibited", "posting_to_general_channel_denied":
            return ProviderError(kind: .permanent, category: .forbidden, message: message, code: code,
                                 httpStatus: response.status)
        case "invalid_payload", "no_text", "too_many_attachments", "user_not_found":
            return ProviderError(kind: .permanent, category: .badRequest, message: message, code: code,
                                 httpStatus: response.status)
        case "rollup_error":
            return ProviderError(kind: .retryable, category: .server, message: message, code: code,
                                 httpStatus: response.status, retryAfter: retryAfter)
        default:
            if response.status == 200 {
                return ProviderError(kind: .retryable, category: .invalidResponse, message: message, httpStatus: 200)
            }
            return ProviderError.byStatus(response.status, message: message, code: code, retryAfter: retryAfter)
        }
    }
}
