import Foundation
import MoeenCore

/// SendGrid v3: API-key scope check and mail sends.
public struct SendGridConnector: MessageSender {
    public let type = IntegrationType.email
    let context: ConnectorContext

    init(context: ConnectorContext) { self.context = context }

    /// `GET {api_url}/v3/scopes`; a key without `mail.send` fails saying so.
    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let response = try await call.send(OutboundRequest(
                method: "GET", url: HTTPHelpers.url(try settings.required("api_url"), "v3", "scopes"),
                headers: [("Authorization", "Bearer \(try settings.required("api_key"))"), ("Accept", "application/json")]))
            guard response.status == 200, let scopes = HTTPHelpers.parse(response.body)?["scopes"]?.arrayValue else {
                throw Self.error(from: response, now: context.now())
            }
            let names = scopes.compactMap(\.stringValue)
            let details: [String: JSONValue] = ["scopes": .array(names.map(JSONValue.string))]
            guard names.contains("mail.send") else {
                let error = ProviderError(kind: .permanent, category: .forbidden,
                                          message: "The SendGrid API key lacks the mail.send permission",
                                          code: "missing_scope", httpStatus: response.status)
                var result = ProbeResult.failure(error, details: details)
                result.details["provider_error_code"] = nil
                return result
            }
            return ProbeResult(success: true, message: "Connected to SendGrid; the key may send mail (\(names.count) scopes)",
                               statusCode: response.status, details: details)
        }
    }

    /// `POST {api_url}/v3/mail/send` → 202, the id in `X-Message-Id`.
    public func send(_ message: ChannelMessage, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        let settings = try Settings(type: type, config: config)
        guard IntegrationCatalog.isEmail(message.to) else {
            throw ProviderError(kind: .permanent, category: .recipient, message: "The recipient is not an e-mail address")
        }
        var content: [JSONValue] = []
        if let text = message.text, !text.isEmpty { content.append(["type": "text/plain", "value": .string(text)]) }
        if let html = message.html, !html.isEmpty { content.append(["type": "text/html", "value": .string(html)]) }
        guard !content.isEmpty else { throw ProviderError.configuration("text or html is required") }
        var from: [String: JSONValue] = ["email": .string(try settings.required("from_email"))]
        if let name = settings["from_name"] { from["name"] = .string(name) }
        let payload: JSONValue = [
            "personalizations": [["to": [["email": .string(message.to)]]]],
            "from": .object(from),
            "subject": .string(message.subject ?? "Moeen"),
            "content": .array(content),
        ]
        var call = context.makeCall(settings: settings, timeout: timeout)
        let response = try await call.send(OutboundRequest(
            method: "POST", url: HTTPHelpers.url(try settings.required("api_url"), "v3", "mail", "send"),
            headers: [("Authorization", "Bearer \(try settings.required("api_key"))"), HTTPHelpers.jsonContentType],
            body: HTTPHelpers.json(payload)))
        guard response.status == 202 || response.status == 200 else {
            throw Self.error(from: response, now: context.now())
        }
        return SendReceipt(providerMessageId: response.header("X-Message-Id"), statusCode: response.status,
                           exchanges: call.exchanges)
    }

    /// Maps `{"errors":[{"message","field","help"}]}` by HTTP status; 429 uses `X-RateLimit-Reset`.
    static func error(from response: InboundResponse, now: Date) -> ProviderError {
        let errors = HTTPHelpers.parse(response.body)?["errors"]?.arrayValue ?? []
        let messages = errors.compactMap { $0["message"]?.stringValue }
        let message = messages.isEmpty ? "SendGrid answered HTTP \(response.status)" : messages.joined(separator: "; ")
        let retryAfter = HTTPHelpers.retryAfter(response, now: now)
            ?? response.header("X-RateLimit-Reset").flatMap { RetryAfter.fromEpochReset($0, now: now) }
        let field = errors.first?["field"]?.stringValue
        switch response.status {
        case 400, 413:
            return ProviderError(kind: .permanent, category: .badRequest, message: message, code: field,
                                 httpStatus: response.status)
        case 200..<300:
            return ProviderError(kind: .retryable, category: .invalidResponse,
                                 message: "SendGrid answered \(response.status) without the expected fields",
                                 httpStatus: response.status)
        default:
            return ProviderError.byStatus(response.status, message: message, code: String(response.status),
                                          retryAfter: retryAfter)
        }
    }
}
