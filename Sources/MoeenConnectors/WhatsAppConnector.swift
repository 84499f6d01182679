import Foundation
import MoeenCore

/// WhatsApp Cloud API (Meta Graph): connection test on the phone number, text and template sends.
public struct WhatsAppConnector: MessageSender {
    public let type = IntegrationType.whatsapp
    let context: ConnectorContext

    init(context: ConnectorContext) { self.context = context }

    /// `GET {api_url}/{phone_number_id}` → `verified_name`, `quality_rating`, `display_phone_number`.
    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let url = HTTPHelpers.url(try settings.required("api_url"), try settings.required("phone_number_id"))
            let response = try await call.send(OutboundRequest(
                method: "GET", url: url, headers: [("Authorization", "Bearer \(try settings.required("access_token"))"),
                                                   ("Accept", "application/json")]))
            guard response.status == 200, let body = HTTPHelpers.parse(response.body) else {
                throw Self.error(from: response, now: context.now())
            }
            var details: [String: JSONValue] = [:]
            for key in ["id", "display_phone_number", "verified_name", "quality_rating"] {
                if let value = body[key] { details[key] = value }
            }
            let name = body["verified_name"]?.stringValue ?? "unnamed"
            let number = body["display_phone_number"]?.stringValue ?? (body["id"]?.textValue ?? "")
            return ProbeResult(success: true, message: "Connected to WhatsApp number \(number) (\(name))",
                               statusCode: response.status, details: details)
        }
    }

    /// Sends `message.template` if given, else `message.text`.
    public func send(_ message: ChannelMessage, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        if let template = message.template {
            return try await sendTemplate(to: message.to, template: template, config: config, timeout: timeout)
        }
        guard let text = message.text, !text.isEmpty else { throw ProviderError.configuration("text is required") }
        return try await sendText(to: message.to, body: text, config: config, timeout: timeout)
    }

    /// A free-form text message (only delivered inside the 24-hour customer-service window).
    public func sendText(to: String, body: String, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        try await post(to: to, payload: ["type": "text", "text": ["preview_url": false, "body": .string(body)]],
                       config: config, timeout: timeout)
    }

    /// A template message; `parameters` fill the body's `{{n}}` placeholders.
    public func sendTemplate(to: String, template: WhatsAppTemplate, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        var content: [String: JSONValue] = ["name": .string(template.name), "language": ["code": .string(template.language)]]
        if let components = template.components {
            content["components"] = .array(components)
        } else if !template.parameters.isEmpty {
            let parameters = template.parameters.map { JSONValue.object(["type": "text", "text": .string($0)]) }
            content["components"] = [["type": "body", "parameters": .array(parameters)]]
        }
        return try await post(to: to, payload: ["type": "template", "template": .object(content)], config: config,
                              timeout: timeout)
    }

    private func post(to: String, payload: [String: JSONValue], config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        let settings = try Settings(type: type, config: config)
        let digits = to.filter(\.isNumber)
        guard (8...15).contains(digits.count) else {
            throw ProviderError(kind: .permanent, category: .recipient, message: "The recipient is not a phone number")
        }
        var body = payload
        body["messaging_product"] = "whatsapp"
        body["recipient_type"] = "individual"
        body["to"] = .string(digits)
        var call = context.makeCall(settings: settings, timeout: timeout)
        let url = HTTPHelpers.url(try settings.required("api_url"), try settings.required("phone_number_id"), "messages")
        let response = try await call.send(OutboundRequest(
            method: "POST", url: url,
            headers: [("Authorization", "Bearer \(try settings.required("access_token"))"), HTTPHelpers.jsonContentType],
            body: HTTPHelpers.json(.object(body))))
        guard response.status == 200, let answer = HTTPHelpers.parse(response.body),
              let id = answer["messages"]?.arrayValue?.first?["id"]?.stringValue
        else { throw Self.error(from: response, now: context.now()) }
        return SendReceipt(providerMessageId: id, statusCode: response.status, exchanges: call.exchanges)
    }

    /// Maps a Graph API error answer by its `error.code`, then by HTTP status.
    static func error(from response: InboundResponse, now: Date) -> ProviderError {
        let error = HTTPHelpers.parse(response.body)?["error"]
        let message = error?["message"]?.stringValue ?? "WhatsApp answered HTTP \(response.status)"
        let code = error?["code"]?.intValue
        let codeText = code.map(String.init)
        let retryAfter = HTTPHelpers.retryAfter(response, now: now) ?? usageRetryAfter(response)
        switch code {
        case 190, 104:
            return ProviderError(kind: .permanent, category: .credentials, message: message, code: codeText,
                                 httpStatus: response.status)
        case 10, 200, 294:
            return ProviderError(kind: .permanent, category: .forbidden, message: message, code: codeText,
                                 httpStatus: response.status)
        case 4, 17, 32, 613, 80007, 130429, 131056, 131048:
            return ProviderError(kind: .retryable, category: .rateLimited, message: message, code: codeText,
                                 httpStatus: response.status, retryAfter: retryAfter)
        case 131026, 131047, 131051, 131021:
            return ProviderError(kind: .permanent, category: .recipient, message: message, code: codeText,
                                 httpStatus: response.status)
        case 1, 2, 131000, 131016, 133004:
            return ProviderError(kind: .retryable, category: .server, message: message, code: codeText,
                                 httpStatus: response.status, retryAfter: retryAfter)
        case 100:
            if error?["is_transient"]?.boolValue == true { break }
            return ProviderError(kind: .permanent, category: .badRequest, message: message, code: codeText,
                                 httpStatus: response.status)
        default:
            break
        }
        if error?["is_transient"]?.boolValue == true {
            return ProviderError(kind: .retryable, category: .server, message: message, code: codeText,
                                 httpStatus: response.status, retryAfter: retryAfter)
        }
        if response.status == 200 {
            return ProviderError(kind: .retryable, category: .invalidResponse,
                                 message: "WhatsApp answered 200 without the expected fields", httpStatus: 200)
        }
        return ProviderError.byStatus(response.status, message: message, code: codeText, retryAfter: retryAfter)
    }

    /// `estimated_time_to_regain_access` (minutes) from the `x-business-use-case-usage` /
    /// `x-app-usage` headers (JSON strings), the largest one found.
    static func usageRetryAfter(_ response: InboundResponse) -> Duration? {
        var minutes: Int?
        func scan(_ value: JSONValue) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    if key == "estimated_time_to_regain_access", let found = member.intValue, found > 0 {
                        minutes = max(minutes ?? 0, found)
                    } else {
                        scan(member)
                    }
                }
            case .array(let items):
                items.forEach(scan)
            default:
                break
            }
        }
        for name in ["x-business-use-case-usage", "x-app-usage"] {
            if let header = response.header(name), let json = HTTPHelpers.parse(Array(header.utf8)) { scan(json) }
        }
        return minutes.map { .seconds($0 * 60) }
    }
}
