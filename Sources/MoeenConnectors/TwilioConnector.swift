import Foundation
import MoeenCore

/// Twilio Programmable Messaging: account check and form-encoded SMS sends.
public struct TwilioConnector: MessageSender {
    public let type = IntegrationType.sms
    let context: ConnectorContext

    init(context: ConnectorContext) { self.context = context }

    /// `GET {api_url}/2010-04-01/Accounts/{account_sid}.json`; an account that is not `active` fails.
    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let sid = try settings.required("account_sid")
            let url = HTTPHelpers.url(try settings.required("api_url"), "2010-04-01", "Accounts", "\(sid).json")
            let response = try await call.send(OutboundRequest(
                method: "GET", url: url,
                headers: [("Authorization", HTTPHelpers.basicAuth(sid, try settings.required("auth_token"))),
                          ("Accept", "application/json")]))
            guard response.status == 200, let body = HTTPHelpers.parse(response.body) else {
                throw Self.error(from: response, now: context.now())
            }
            var details: [String: JSONValue] = [:]
            for key in ["status", "type", "friendly_name"] {
                if let value = body[key] { details[key] = value }
            }
            let status = body["status"]?.stringValue ?? "unknown"
            guard status == "active" else {
                let error = ProviderError(kind: .permanent, category: .forbidden,
                                          message: "The Twilio account is \(status), not active", code: status,
                                          httpStatus: response.status)
                var result = ProbeResult.failure(error, details: details)
                result.details["provider_error_code"] = nil
                return result
            }
            let name = body["friendly_name"]?.stringValue ?? sid
            let kind = body["type"]?.stringValue ?? "unknown"
            return ProbeResult(success: true, message: "Connected to Twilio account \(name) (\(kind), active)",
                               statusCode: response.status, details: details)
        }
    }

    /// `POST …/Messages.json` with `To`, `From` or `MessagingServiceSid`, `Body` → 201 `{sid: "SM…"}`.
    public func send(_ message: ChannelMessage, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        guard let text = message.text, !text.isEmpty else { throw ProviderError.configuration("text is required") }
        return try await sendSMS(to: message.to, body: text, statusCallback: message.statusCallback, config: config, timeout: timeout)
    }

    /// Sends one SMS; `statusCallback` is the URL Twilio posts delivery updates to.
    public func sendSMS(to: String, body: String, statusCallback: String?, config: [String: String],
                        timeout: Duration) async throws(ProviderError) -> SendReceipt
    {
        let settings = try Settings(type: type, config: config)
        let sid = try settings.required("account_sid")
        var form: [(String, String)] = [("To", to)]
        if let service = settings["messaging_service_sid"] {
            form.append(("MessagingServiceSid", service))
        } else {
            form.append(("From", try settings.required("from_number")))
        }
        form.append(("Body", body))
        if let statusCallback { form.append(("StatusCallback", statusCallback)) }
        var call = context.makeCall(settings: settings, timeout: timeout)
        let url = HTTPHelpers.url(try settings.required("api_url"), "2010-04-01", "Accounts", sid, "Messages.json")
        let response = try await call.send(OutboundRequest(
            method: "POST", url: url,
            headers: [("Authorization", HTTPHelpers.basicAuth(sid, try settings.required("auth_token"))),
                      HTTPHelpers.formContentType, ("Accept", "application/json")],
            body: Array(FormURLEncoding.encode(form).utf8)))
        guard response.status == 201 || response.status == 200, let answer = HTTPHelpers.parse(response.body),
              let messageSid = answer["sid"]?.stringValue
        else { throw Self.error(from: response, now: context.now()) }
        return SendReceipt(providerMessageId: messageSid, statusCode: response.status, exchanges: call.exchanges)
    }

    /// Maps `{"code","message","more_info","status"}` by Twilio's code, then by HTTP status.
    static func error(from response: InboundResponse, now: Date) -> ProviderError {
        let body = HTTPHelpers.parse(response.body)
        let message = body?["message"]?.stringValue ?? "Twilio answered HTTP \(response.status)"
        let code = body?["code"]?.intValue
        let codeText = code.map(String.init)
        let retryAfter = HTTPHelpers.retryAfter(response, now: now)
        switch code {
        case 20003, 20005:
            return ProviderError(kind: .permanent, category: .credentials, message: message, code: codeText,
                                 httpStatus: response.status)
        case 20404:
            return ProviderError(kind: .permanent, category: .notFound, message: message, code: codeText,
                                 httpStatus: response.status)
        case 21211, 21614, 21610, 21612, 21408, 21604:
            return ProviderError(kind: .permanent, category: .recipient, message: message, code: codeText,
                                 httpStatus: response.status)
        case 20429, 14107:
            return ProviderError(kind: .retryable, category: .rateLimited, message: message, code: codeText,
                                 httpStatus: response.status, retryAfter: retryAfter)
        case 20500, 20503:
            return ProviderError(kind: .retryable, category: .server, message: message, code: codeText,
                                 httpStatus: response.status, retryAfter: retryAfter)
        default:
            if (200..<300).contains(response.status) {
                return ProviderError(kind: .retryable, category: .invalidResponse,
                                     message: "Twilio answered \(response.status) without the expected fields",
                                     httpStatus: response.status)
            }
            return ProviderError.byStatus(response.status, message: message, code: codeText, retryAfter: retryAfter)
        }
    }
}
