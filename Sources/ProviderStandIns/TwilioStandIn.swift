import Foundation
import MoeenCore
import Vapor

/// Twilio REST 2010-04-01 stand-in: `GET /2010-04-01/Accounts/{sid}.json` and
/// `POST /2010-04-01/Accounts/{sid}/Messages.json` (form), HTTP Basic `sid:token`.
public final class TwilioStandIn: ProviderStandIn {
    /// Configurable account state.
    public actor State {
        public var accountSID = "AC" + String(repeating: "0", count: 30) + "aa"
        public var authToken = "fake-twilio-auth-token"
        /// `active`, `suspended` or `closed`.
        public var status = "active"
        /// `Trial` or `Full`.
        public var accountType = "Trial"
        public var friendlyName = "Moeen test account"
        /// Sender numbers the account owns.
        public var fromNumbers: Set<String> = ["+15550000002"]
        /// Accepted messages: (SM sid, form fields).
        public private(set) var sent: [(sid: String, form: [String: String])] = []

        /// Changes the state: `await standIn.state.update { $0.status = "suspended" }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
        func record(sid: String, form: [String: String]) { sent.append((sid, form)) }
    }

    public let type = IntegrationType.sms
    public let state = State()
    let core = StandInCore(name: "twilio")
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }

    public init() {}

    public func start(port: Int) async throws -> URL {
        let state = state, faults = core.faults, sends = core.sends
        return try await core.start(port: port, errorResponse: { status, _ in
            status == .tooManyRequests
                ? Self.twilioError(.tooManyRequests, code: 20429, message: "Too Many Requests")
                : Self.twilioError(.serviceUnavailable, code: 20503, message: "Service Unavailable")
        }, sendKey: { request in
            guard request.method == .POST, request.url.path.hasSuffix("/Messages.json") else { return nil }
            let form = Reply.formBody(request)
            return SendKey(to: form["To"], text: form["Body"])
        }) { app in
            app.get("2010-04-01", "Accounts", ":file") { request async -> Response in
                let file = request.parameters.get("file") ?? ""
                guard file.hasSuffix(".json") else { return Self.notFound(request) }
                let sid = String(file.dropLast(5))
                if let failure = await Self.authenticate(request, sid: sid, state: state) { return failure }
                return Reply.json(.ok, [
                    "sid": .string(sid),
                    "owner_account_sid": .string(sid),
                    "friendly_name": .string(await state.friendlyName),
                    "status": .string(await state.status),
                    "type": .string(await state.accountType),
                    "auth_token": .string(await state.authToken),
                    "date_created": "Thu, 01 Jan 2026 00:00:00 +0000",
                    "date_updated": "Thu, 01 Jan 2026 00:00:00 +0000",
                    "uri": .string("/2010-04-01/Accounts/\(sid).json"),
                    "subresource_uris": ["messages": .string("/2010-04-01/Accounts/\(sid)/Messages.json")],
                ])
            }
            app.post("2010-04-01", "Accounts", ":sid", "Messages.json") { request async -> Response in
                let sid = request.parameters.get("sid") ?? ""
                if let failure = await Self.authenticate(request, sid: sid, state: state) { return failure }
                if await state.status != "active" {
                    return Self.twilioError(.unauthorized, code: 20003, message: "Authenticate")
                }
                let form = Reply.formBody(request)
                guard let to = form["To"], !to.isEmpty else {
                    return Self.twilioError(.badRequest, code: 21604, message: "A 'To' phone number is required.")
                }
                guard IntegrationCatalog.isE164(to), await !faults.rejectRecipients.contains(to) else {
                    return Self.twilioError(.badRequest, code: 21211, message: "Invalid 'To' Phone Number: \(to)")
                }
                if let from = form["From"] {
                    guard await state.fromNumbers.contains(from) else {
                        return Self.twilioError(.badRequest, code: 21606,
                                                message: "The From phone number \(from) is not a valid, SMS-capable inbound phone number or short code for your account.")
                    }
                } else if form["MessagingServiceSid"] == nil {
                    return Self.twilioError(.badRequest, code: 21603, message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
                }
                guard let body = form["Body"], !body.isEmpty else {
                    return Self.twilioError(.badRequest, code: 21602, message: "Message body is required.")
                }
                let messageSID = "SM" + Reply.hex(32)
                await state.record(sid: messageSID, form: form)
                await sends.accepted(request, providerID: messageSID)
                return Reply.json(.created, [
                    "sid": .string(messageSID),
                    "account_sid": .string(sid),
                    "to": .string(to),
                    "from": form["From"].map(JSONValue.string) ?? .null,
                    "messaging_service_sid": form["MessagingServiceSid"].map(JSONValue.string) ?? .null,
                    "body": .string(body),
                    "status": form["MessagingServiceSid"] == nil ? "queued" : "accepted",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "price": .null,
                    "error_code": .null,
                    "error_message": .null,
                    "uri": .string("/2010-04-01/Accounts/\(sid)/Messages/\(messageSID).json"),
                ])
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        [
            "api_url": baseURL.absoluteString,
            "account_sid": "AC" + String(repeating: "0", count: 30) + "aa",
            "auth_token": "fake-twilio-auth-token",
            "from_number": "+15550000002",
        ]
    }

    /// `nil` when Basic `sid:token` is right for the account in the path; else 20003 (401) or 20404.
    static func authenticate(_ request: Request, sid: String, state: State) async -> Response? {
        guard let basic = request.headers.basicAuthorization,
              basic.username == (await state.accountSID), basic.password == (await state.authToken)
        else { return twilioError(.unauthorized, code: 20003, message: "Authenticate") }
        guard sid == basic.username else { return notFound(request) }
        return nil
    }

    static func notFound(_ request: Request) -> Response {
        twilioError(.notFound, code: 20404, message: "The requested resource \(request.url.path) was not found")
    }

    static func twilioError(_ status: HTTPStatus, code: Int, message: String) -> Response {
        Reply.json(status, [
            "code": .number(code), "message": .string(message),
            "more_info": .string("https://www.twilio.com/docs/errors/\(code)"), "status": .number(Int(status.code)),
        ])
    }
}
