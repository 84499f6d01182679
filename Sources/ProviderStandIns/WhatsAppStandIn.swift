import Foundation
import MoeenCore
import Vapor

/// WhatsApp Cloud API stand-in: `GET /{version}/{phone_number_id}` and
/// `POST /{version}/{phone_number_id}/messages`, Bearer token, Graph error shapes.
public final class WhatsAppStandIn: ProviderStandIn {
    /// Configurable account state.
    public actor State {
        public var accessToken = "fake-whatsapp-access-token"
        /// Answer the right token as Meta answers an expired one: code 190, subcode 463, "Session has expired".
        public var tokenExpired = false
        public var phoneNumberID = "100000000000001"
        public var displayPhoneNumber = "+1 555-000-0001"
        public var verifiedName = "Moeen Test Centre"
        public var qualityRating = "GREEN"
        /// Recipients (digits) answered with 131026 "Message undeliverable" (as are the E.164 numbers of the fault
        /// plan's `rejectRecipients`).
        public var undeliverable: Set<String> = []
        /// Accepted messages: (wamid, JSON body).
        public private(set) var sent: [(id: String, body: JSONValue)] = []

        /// Changes the state: `await standIn.state.update { $0.qualityRating = "RED" }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
        func record(id: String, body: JSONValue) { sent.append((id, body)) }
    }

    public let type = IntegrationType.whatsapp
    public let state = State()
    let core = StandInCore(name: "whatsapp")
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }
    /// Graph API version in the path.
    public let version = "v17.0"

    public init() {}

    public func start(port: Int) async throws -> URL {
        let state = state, faults = core.faults, sends = core.sends
        return try await core.start(port: port, errorResponse: { status, _ in
            if status == .tooManyRequests {
                return Self.graphError(.tooManyRequests, code: 130429,
                                       message: "(#130429) Rate limit hit", type: "OAuthException")
            }
            return Self.graphError(status, code: 2, message: "Service temporarily unavailable",
                                   type: "OAuthException", transient: true)
        }, sendKey: { request in
            guard request.method == .POST, request.url.path.hasSuffix("/messages") else { return nil }
            let body = Reply.jsonBody(request)
            let text = body?["text"]?["body"]?.stringValue ?? body?["template"]?["name"]?.stringValue.map { "template:" + $0 }
            return SendKey(to: body?["to"]?.stringValue.map { $0.hasPrefix("+") ? $0 : "+" + $0 }, text: text)
        }) { app in
            app.get(":version", ":phone") { request async -> Response in
                if let failure = await Self.authenticate(request, state: state) { return failure }
                let phone = request.parameters.get("phone") ?? ""
                guard phone == (await state.phoneNumberID) else { return Self.unknownObject(phone) }
                return Reply.json(.ok, [
                    "id": .string(phone),
                    "display_phone_number": .string(await state.displayPhoneNumber),
                    "verified_name": .string(await state.verifiedName),
                    "quality_rating": .string(await state.qualityRating),
                ])
            }
            app.post(":version", ":phone", "messages") { request async -> Response in
                if let failure = await Self.authenticate(request, state: state) { return failure }
                let phone = request.parameters.get("phone") ?? ""
                guard phone == (await state.phoneNumberID) else { return Self.unknownObject(phone) }
                guard let body = Reply.jsonBody(request), body["messaging_product"]?.stringValue == "whatsapp" else {
                    return Self.graphError(.badRequest, code: 100,
                                           message: "(#100) The parameter messaging_product is required.")
                }
                guard let to = body["to"]?.stringValue, !to.isEmpty, to.allSatisfy(\.isNumber) else {
                    return Self.graphError(.badRequest, code: 100, message: "(#100) Invalid parameter")
                }
                let rejected = await faults.rejectRecipients.contains("+" + to)
                if await state.undeliverable.contains(to) || rejected {
                    return Self.graphError(.badRequest, code: 131026, message: "Message undeliverable",
                                           type: "OAuthException",
                                           details: "Message Undeliverable.")
                }
                let type = body["type"]?.stringValue ?? "text"
                if type == "text", body["text"]?["body"]?.stringValue?.isEmpty != false {
                    return Self.graphError(.badRequest, code: 100, message: "(#100) Param text['body'] is required")
                }
                if type == "template", body["template"]?["name"]?.stringValue == nil {
                    return Self.graphError(.badRequest, code: 100, message: "(#100) Param template['name'] is required")
                }
                let id = "wamid.FAKE" + Reply.hex(24).uppercased()
                await state.record(id: id, body: body)
                await sends.accepted(request, providerID: id)
                return Reply.json(.ok, [
                    "messaging_product": "whatsapp",
                    "contacts": [["input": .string(to), "wa_id": .string(to)]],
                    "messages": [["id": .string(id)]],
                ])
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        [
            "api_url": baseURL.absoluteString + "/" + version,
            "access_token": "fake-whatsapp-access-token",
            "phone_number_id": "100000000000001",
            "webhook_verify_token": "fake-verify-token",
            "app_secret": "fake-app-secret",
        ]
    }

    /// `nil` when the bearer token is right; else Meta's 401 (104 missing, 190 invalid).
    static func authenticate(_ request: Request, state: State) async -> Response? {
        guard let token = Reply.bearer(request) else {
            return graphError(.unauthorized, code: 104, message: "An access token is required to request this resource.")
        }
        guard token == (await state.accessToken) else {
            return graphError(.unauthorized, code: 190, message: "Invalid OAuth access token - Cannot parse access token")
        }
        if await state.tokenExpired {
            return graphError(.unauthorized, code: 190, message: "Error validating access token: Session has expired on "
                + "Sunday, 29-Nov-26 08:00:00 PST. The current time is Sunday, 29-Nov-26 09:00:00 PST.", subcode: 463)
        }
        return nil
    }

    static func unknownObject(_ id: String) -> Response {
        graphError(.badRequest, code: 100, message: "Unsupported get request. Object with ID '\(id)' does not exist, "
            + "cannot be loaded due to missing permissions, or does not support this operation.",
            type: "GraphMethodException", subcode: 33)
    }

    static func graphError(_ status: HTTPStatus, code: Int, message: String, type: String = "OAuthException",
                           subcode: Int? = nil, transient: Bool? = nil, details: String? = nil) -> Response {
        var error: [String: JSONValue] = [
            "message": .string(message), "type": .string(type), "code": .number(code),
            "fbtrace_id": .string("AFakeTrace" + Reply.hex(8)),
        ]
        if let subcode { error["error_subcode"] = .number(subcode) }
        if let transient { error["is_transient"] = .bool(transient) }
        if let details { error["error_data"] = ["messaging_product": "whatsapp", "details": .string(details)] }
        return Reply.json(status, ["error": .object(error)])
    }
}
