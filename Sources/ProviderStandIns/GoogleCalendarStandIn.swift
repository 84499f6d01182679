import Foundation
import MoeenCore
import Vapor

/// Google OAuth token endpoint (`POST /token`, form) and Calendar v3 stand-in
/// (`/calendar/v3/users/me/calendarList/{id}`, `/calendar/v3/calendars/{id}/events[/{eventId}]`).
public final class GoogleCalendarStandIn: ProviderStandIn {
    /// Configurable OAuth client and calendar state.
    public actor State {
        public var clientID = "fake-client-id.apps.example.org"
        public var clientSecret = "fake-google-client-secret"
        public var refreshToken = "fake-google-refresh-token"
        public var calendarID = "clinic-calendar@example.org"
        public var summary = "Moeen appointments"
        public var timeZone = "Asia/Riyadh"
        /// `owner`, `writer`, `reader` or `freeBusyReader`.
        public var accessRole = "owner"
        /// Lifetime of issued access tokens, seconds.
        public var expiresIn = 3599
        /// Access tokens currently accepted.
        public private(set) var validTokens: Set<String> = []
        /// How many tokens the token endpoint has issued.
        public private(set) var tokensIssued = 0
        public private(set) var events: [String: JSONValue] = [:]

        /// Changes the state: `await standIn.state.update { $0.accessRole = "reader" }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
        /// Makes every issued access token invalid (the API answers 401 until a refresh).
        public func revokeAccessTokens() { validTokens.removeAll() }

        func issue() -> String {
            tokensIssued += 1
            let token = "ya29.fake-\(tokensIssued)-" + Reply.hex(16)
            validTokens.insert(token)
            return token
        }
        func store(_ id: String, _ event: JSONValue?) { events[id] = event }
    }

    public let type = IntegrationType.googleCalendar
    public let state = State()
    let core = StandInCore(name: "google-calendar")
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }

    public init() {}

    public func start(port: Int) async throws -> URL {
        let state = state
        return try await core.start(port: port, errorResponse: { status, _ in
            status == .tooManyRequests
                ? Self.apiError(.tooManyRequests, reason: "rateLimitExceeded", message: "Rate Limit Exceeded", domain: "usageLimits")
                : Self.apiError(.serviceUnavailable, reason: "backendError", message: "Backend Error")
        }) { app in
            app.post("token") { request async -> Response in
                await Self.token(request, state: state)
            }
            let api = app.grouped("calendar", "v3")
            api.get("users", "me", "calendarList", ":calendar") { request async -> Response in
                if let failure = await Self.authenticate(request, state: state) { return failure }
                let calendar = request.parameters.get("calendar") ?? ""
                let id = await state.calendarID
                guard calendar == id || calendar == "primary" else { return Self.notFound() }
                return Reply.json(.ok, [
                    "kind": "calendar#calendarListEntry", "etag": "\"1700000000000000\"",
                    "id": .string(id), "summary": .string(await state.summary),
                    "timeZone": .string(await state.timeZone), "accessRole": .string(await state.accessRole),
                    "primary": .bool(calendar == "primary"),
                ])
            }
            api.post("calendars", ":calendar", "events") { request async -> Response in
                if let failure = await Self.authorizeWrite(request, state: state) { return failure }
                guard let body = Reply.jsonBody(request), body["start"] != nil, body["end"] != nil else {
                    return Self.apiError(.badRequest, reason: "required", message: "Missing end time.")
                }
                let id = Reply.hex(26)
                let event = Self.event(id: id, body: body)
                await state.store(id, event)
                return Reply.json(.ok, event)
            }
            api.on(.PATCH, "calendars", ":calendar", "events", ":event") { request async -> Response in
                if let failure = await Self.authorizeWrite(request, state: state) { return failure }
                let id = request.parameters.get("event") ?? ""
                guard case .object(var existing)? = await state.events[id] else { return Self.notFound() }
                for (key, value) in Reply.jsonBody(request)?.objectValue ?? [:] { existing[key] = value }
                await state.store(id, .object(existing))
                return Reply.json(.ok, .object(existing))
            }
            api.delete("calendars", ":calendar", "events", ":event") { request async -> Response in
                if let failure = await Self.authorizeWrite(request, state: state) { return failure }
                let id = request.parameters.get("event") ?? ""
                guard await state.events[id] != nil else {
                    return Self.apiError(.gone, reason: "deleted", message: "Resource has been deleted")
                }
                await state.store(id, nil)
                return Response(status: .noContent)
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        [
            "client_id": "fake-client-id.apps.example.org",
            "client_secret": "fake-google-client-secret",
            "refresh_token": "fake-google-refresh-token",
            "calendar_id": "clinic-calendar@example.org",
            "token_url": baseURL.absoluteString + "/token",
            "api_url": baseURL.absoluteString + "/calendar/v3",
        ]
    }

    /// The OAuth refresh grant: form-encoded only, as Google's endpoint.
    static func token(_ request: Request, state: State) async -> Response {
        guard request.headers.contentType?.description.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
        else {
            return Reply.json(.badRequest, ["error": "unsupported_grant_type", "error_description": "Invalid grant_type: "])
        }
        let form = Reply.formBody(request)
        guard form["grant_type"] == "refresh_token" else {
            return Reply.json(.badRequest, ["error": "unsupported_grant_type",
                                            "error_description": .string("Invalid grant_type: \(form["grant_type"] ?? "")")])
        }
        guard form["client_id"] == (await state.clientID), form["client_secret"] == (await state.clientSecret) else {
            return Reply.json(.unauthorized, ["error": "invalid_client", "error_description": "Unauthorized"])
        }
        guard form["refresh_token"] == (await state.refreshToken) else {
            return Reply.json(.badRequest, ["error": "invalid_grant", "error_description": "Token has been expired or revoked."])
        }
        let token = await state.issue()
        return Reply.json(.ok, [
            "access_token": .string(token), "expires_in": .number(await state.expiresIn), "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/calendar",
        ])
    }

    static func authenticate(_ request: Request, state: State) async -> Response? {
        guard let token = Reply.bearer(request), await state.validTokens.contains(token) else {
            return Reply.json(.unauthorized, ["error": [
                "code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "errors": [["message": "Invalid Credentials", "domain": "global", "reason": "authError",
                            "location": "Authorization", "locationType": "header"]],
                "status": "UNAUTHENTICATED",
            ]])
        }
        return nil
    }

    /// Token valid, calendar known, and the role may write.
    static func authorizeWrite(_ request: Request, state: State) async -> Response? {
        if let failure = await authenticate(request, state: state) { return failure }
        let calendar = request.parameters.get("calendar") ?? ""
        guard calendar == (await state.calendarID) || calendar == "primary" else { return notFound() }
        let role = await state.accessRole
        guard role == "owner" || role == "writer" else {
            return apiError(.forbidden, reason: "requiredAccessLevel",
                            message: "You need to have writer access to this calendar.")
        }
        return nil
    }

    static func event(id: String, body: JSONValue) -> JSONValue {
        var event = body.objectValue ?? [:]
        event["kind"] = "calendar#event"
        event["id"] = .string(id)
        event["status"] = "confirmed"
        event["htmlLink"] = .string("https://calendar.example.org/event?eid=\(id)")
        event["etag"] = "\"3000000000000000\""
        return .object(event)
    }

    static func notFound() -> Response {
        apiError(.notFound, reason: "notFound", message: "Not Found")
    }

    static func apiError(_ status: HTTPStatus, reason: String, message: String, domain: String = "global") -> Response {
        Reply.json(status, ["error": [
            "errors": [["domain": .string(domain), "reason": .string(reason), "message": .string(message)]],
            "code": .number(Int(status.code)), "message": .string(message),
        ]])
    }
}
