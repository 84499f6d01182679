import Foundation
import MoeenCore
import Vapor

/// SendGrid v3 stand-in: `GET /v3/scopes` and `POST /v3/mail/send` (202 + `X-Message-Id`), Bearer key.
public final class SendGridStandIn: ProviderStandIn {
    /// Configurable key state.
    public actor State {
        public var apiKey = "SG.fake-sendgrid-key.for-tests-only"
        /// The scopes of the key; without `mail.send` sends are refused (403).
        public var scopes = ["mail.send", "alerts.create", "alerts.read"]
        /// Accepted mails: (X-Message-Id, JSON body).
        public private(set) var sent: [(id: String, body: JSONValue)] = []

        /// Changes the state: `await standIn.state.update { $0.scopes = ["alerts.read"] }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
        func record(id: String, body: JSONValue) { sent.append((id, body)) }
    }

    public let type = IntegrationType.email
    public let state = State()
    let core = StandInCore(name: "sendgrid")
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }

    public init() {}

    public func start(port: Int) async throws -> URL {
        let state = state, faults = core.faults, sends = core.sends
        return try await core.start(port: port, errorResponse: { status, _ in
            if status == .tooManyRequests {
                let reset = Int(Date().timeIntervalSince1970) + 60
                return Self.errors(.tooManyRequests, "too many requests",
                                   headers: ["X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                                             "X-RateLimit-Reset": String(reset)])
            }
            return Self.errors(.serviceUnavailable, "service unavailable")
        }, sendKey: { request in
            guard request.method == .POST, request.url.path == "/v3/mail/send" else { return nil }
            let body = Reply.jsonBody(request)
            return SendKey(to: body?["personalizations"]?.arrayValue?.first?["to"]?.arrayValue?.first?["email"]?.stringValue,
                           text: body?["content"]?.arrayValue?.first?["value"]?.stringValue)
        }) { app in
            app.get("v3", "scopes") { request async -> Response in
                guard Reply.bearer(request) == (await state.apiKey) else {
                    return Self.errors(.unauthorized, "authorization required")
                }
                return Reply.json(.ok, ["scopes": .array(await state.scopes.map(JSONValue.string))])
            }
            app.post("v3", "mail", "send") { request async -> Response in
                guard Reply.bearer(request) == (await state.apiKey) else {
                    return Self.errors(.unauthorized, "The provided authorization grant is invalid, expired, or revoked")
                }
                guard await state.scopes.contains("mail.send") else {
                    return Self.errors(.forbidden, "access forbidden")
                }
                guard let body = Reply.jsonBody(request) else {
                    return Self.errors(.badRequest, "Bad Request", field: nil)
                }
                let recipients = body["personalizations"]?.arrayValue?.first?["to"]?.arrayValue ?? []
                guard !recipients.isEmpty, recipients.allSatisfy({ $0["email"]?.stringValue.map(IntegrationCatalog.isEmail) == true })
                else {
                    return Self.errors(.badRequest, "Does not contain a valid address.", field: "personalizations.0.to.0.email")
                }
                let rejected = await faults.rejectRecipients.map { $0.lowercased() }
                if let index = recipients.firstIndex(where: { rejected.contains($0["email"]?.stringValue?.lowercased() ?? "") }) {
                    return Self.errors(.badRequest, "Does not contain a valid address.", field: "personalizations.0.to.\(index).email")
                }
                guard body["from"]?["email"]?.stringValue.map(IntegrationCatalog.isEmail) == true else {
                    return Self.errors(.badRequest, "The from email does not contain a valid address.", field: "from.email")
                }
                guard body["subject"]?.stringValue?.isEmpty == false else {
                    return Self.errors(.badRequest, "The subject is required.", field: "subject")
                }
                guard body["content"]?.arrayValue?.isEmpty == false else {
                    return Self.errors(.badRequest, "Unless a valid template_id is provided, the content parameter is required.",
                                       field: "content")
                }
                let id = "fake" + Reply.hex(18)
                await state.record(id: id, body: body)
                await sends.accepted(request, providerID: id)
                return Response(status: .accepted, headers: ["X-Message-Id": id])
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        [
            "api_url": baseURL.absoluteString,
            "api_key": "SG.fake-sendgrid-key.for-tests-only",
            "from_email": "noreply@example.org",
            "from_name": "مركز الهمم",
        ]
    }

    static func errors(_ status: HTTPStatus, _ message: String, field: String? = nil, headers: HTTPHeaders = [:])
        -> Response
    {
        // `field` is left out when there is none: SendGrid's examples show null, its schema (OpenAPI 3.1) a string.
        var error: [String: JSONValue] = ["message": .string(message)]
        if let field { error["field"] = .string(field) }
        return Reply.json(status, ["errors": [.object(error)]], headers: headers)
    }
}
