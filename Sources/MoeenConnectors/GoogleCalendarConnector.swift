import Foundation
import MoeenCore

/// Google Calendar v3 over an OAuth refresh token: calendar access check and event sync.
public struct GoogleCalendarConnector: ProviderConnector {
    public let type = IntegrationType.googleCalendar
    let context: ConnectorContext
    let tokens: GoogleTokenCache

    init(context: ConnectorContext, tokens: GoogleTokenCache) {
        self.context = context
        self.tokens = tokens
    }

    /// Token, then `GET {api_url}/users/me/calendarList/{calendar_id}`; `accessRole` must be
    /// `writer` or `owner`.
    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let calendarID = try settings.required("calendar_id")
            let url = HTTPHelpers.url(try settings.required("api_url"), "users", "me", "calendarList", calendarID)
            let response = try await authorized(&call, settings: settings, method: "GET", url: url, body: nil)
            guard response.status == 200, let body = HTTPHelpers.parse(response.body) else {
                throw Self.error(from: response, now: context.now())
            }
            let role = body["accessRole"]?.stringValue ?? "unknown"
            var details: [String: JSONValue] = ["access_role": .string(role)]
            if let summary = body["summary"] { details["summary"] = summary }
            if let zone = body["timeZone"] { details["time_zone"] = zone }
            if let id = body["id"] { details["calendar_id"] = id }
            let summary = body["summary"]?.stringValue ?? calendarID
            guard role == "writer" || role == "owner" else {
                let error = ProviderError(
                    kind: .permanent, category: .forbidden,
                    message: "Access role \(role) on calendar \(summary) cannot add events; writer or owner is needed to sync appointments",
                    code: role, httpStatus: response.status)
                var result = ProbeResult.failure(error, details: details)
                result.details["provider_error_code"] = nil
                return result
            }
            return ProbeResult(success: true, message: "Connected to calendar \(summary) (\(role))",
                               statusCode: response.status, details: details)
        }
    }

    /// Creates an event; returns its id.
    public func createEvent(_ event: CalendarEvent, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        try await eventCall(method: "POST", eventID: nil, event: event, config: config, timeout: timeout)
    }

    /// Updates (patches) an event; returns its id.
    public func updateEvent(id: String, _ event: CalendarEvent, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        try await eventCall(method: "PATCH", eventID: id, event: event, config: config, timeout: timeout)
    }

    /// Deletes an event; an event already gone (404/410) counts as deleted.
    public func deleteEvent(id: String, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
    {
        try await eventCall(method: "DELETE", eventID: id, event: nil, config: config, timeout: timeout)
    }

    private func eventCall(method: String, eventID: String?, event: CalendarEvent?, config: [String: String],
                           timeout: Duration) async throws(ProviderError) -> SendReceipt
    {
        let settings = try Settings(type: type, config: config)
        var call = context.makeCall(settings: settings, timeout: timeout)
        var url = HTTPHelpers.url(try settings.required("api_url"), "calendars", try settings.required("calendar_id"),
                                  "events")
        if let eventID { url = HTTPHelpers.url(url, eventID) }
        let response = try await authorized(&call, settings: settings, method: method, url: url,
                                            body: event.map { HTTPHelpers.json($0.json) })
        if method == "DELETE" {
            guard (200..<300).contains(response.status) || response.status == 410 || response.status == 404 else {
                throw Self.error(from: response, now: context.now())
            }
            return SendReceipt(providerMessageId: eventID, statusCode: response.status, exchanges: call.exchanges)
        }
        guard response.status == 200, let id = HTTPHelpers.parse(response.body)?["id"]?.stringValue else {
            throw Self.error(from: response, now: context.now())
        }
        return SendReceipt(providerMessageId: id, statusCode: response.status, exchanges: call.exchanges)
    }

    /// Sends with a bearer token; on 401 forgets the token, refreshes once and retries once.
    private func authorized(_ call: inout ProviderCall, settings: Settings, method: String, url: String,
                            body: [UInt8]?) async throws(ProviderError) -> InboundResponse
    {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if body != nil { headers.append(HTTPHelpers.jsonContentType) }
        var lastResponse: InboundResponse?
        for _ in 0..<2 {
            let token = try await accessToken(&call, settings: settings)
            let response = try await call.send(OutboundRequest(
                method: method, url: url, headers: headers + [("Authorization", "Bearer \(token)")], body: body))
            guard response.status == 401 else { return response }
            await tokens.invalidate(key: try cacheKey(settings), token: token)
            lastResponse = response
        }
        if let lastResponse { return lastResponse }
        throw ProviderError(kind: .permanent, category: .credentials, message: "Google refused the access token")
    }

    /// Token URL, API URL, client id and refresh token: a token is only reused where it was meant to go.
    private func cacheKey(_ settings: Settings) throws(ProviderError) -> String {
        GoogleTokenCache.key(tokenURL: try settings.required("token_url"), apiURL: try settings.required("api_url"),
                             clientID: try settings.required("client_id"),
                             refreshToken: try settings.required("refresh_token"))
    }

    /// A cached or freshly refreshed access token; the refresh is form-encoded, as Google requires.
    private func accessToken(_ call: inout ProviderCall, settings: Settings) async throws(ProviderError) -> String {
        let key = try cacheKey(settings)
        let form = FormURLEncoding.encode([
            ("grant_type", "refresh_token"),
            ("client_id", try settings.required("client_id")),
            ("client_secret", try settings.required("client_secret")),
            ("refresh_token", try settings.required("refresh_token")),
        ])
        let request = OutboundRequest(
            method: "POST", url: try settings.required("token_url"),
            headers: [HTTPHelpers.formContentType, ("Accept", "application/json")], body: Array(form.utf8))
        let session = call
        let now = context.now
        let outcome = await tokens.token(key: key, now: now()) {
            var fetchCall = session
            let result: Result<GoogleTokenCache.Grant, ProviderError>
            do throws(ProviderError) {
                let response = try await fetchCall.send(request)
                result = Self.grant(from: response, now: now())
            } catch {
                result = .failure(error)
            }
            return (result, Array(fetchCall.exchanges.dropFirst(session.exchanges.count)))
        }
        call.append(outcome.exchanges)
        return try outcome.result.get().accessToken
    }

    static func grant(from response: InboundResponse, now: Date) -> Result<GoogleTokenCache.Grant, ProviderError> {
        let body = HTTPHelpers.parse(response.body)
        if response.status == 200, let token = body?["access_token"]?.stringValue {
            let expiresIn = body?["expires_in"]?.intValue ?? 3600
            return .success(.init(accessToken: token, expiresAt: now.addingTimeInterval(TimeInterval(expiresIn))))
        }
        let code = body?["error"]?.stringValue
        let message = body?["error_description"]?.stringValue ?? code ?? "Google's token endpoint answered HTTP \(response.status)"
        switch code {
        case "invalid_grant", "invalid_client", "unauthorized_client":
            return .failure(ProviderError(kind: .permanent, category: .credentials, message: message, code: code,
                                          httpStatus: response.status))
        default:
            return .failure(ProviderError.byStatus(response.status, message: message, code: code,
                                                   retryAfter: HTTPHelpers.retryAfter(response, now: now)))
        }
    }

    /// Maps `{"error":{"errors":[{"domain","reason","message"}],"code","message"}}` by reason, then status.
    static func error(from response: InboundResponse, now: Date) -> ProviderError {
        let error = HTTPHelpers.parse(response.body)?["error"]
        let message = error?["message"]?.stringValue ?? "Google answered HTTP \(response.status)"
        let reason = error?["errors"]?.arrayValue?.first?["reason"]?.stringValue
        let retryAfter = HTTPHelpers.retryAfter(response, now: now)
        switch reason {
        case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded":
            if response.status == 403 || response.status == 429 {
                return ProviderError(kind: .retryable, category: .rateLimited, message: message, code: reason,
                                     httpStatus: response.status, retryAfter: retryAfter)
            }
        case "backendError":
            return ProviderError(kind: .retryable, category: .server, message: message, code: reason,
                                 httpStatus: response.status, retryAfter: retryAfter)
        default:
            break
        }
        if response.status == 200 {
            return ProviderError(kind: .retryable, category: .invalidResponse,
                                 message: "Google answered 200 without the expected fields", httpStatus: 200)
        }
        return ProviderError.byStatus(response.status, message: message, code: reason, retryAfter: retryAfter)
    }
}

/// A calendar event to create or update (appointments).
public struct CalendarEvent: Sendable, Equatable {
    public var summary: String
    public var description: String?
    public var location: String?
    public var start: Date
    public var end: Date
    /// IANA zone, e.g. `Asia/Riyadh`; times are sent in UTC either way.
    public var timeZone: String?

    public init(summary: String, description: String? = nil, location: String? = nil, start: Date, end: Date,
                timeZone: String? = nil) {
        self.summary = summary
        self.description = description
        self.location = location
        self.start = start
        self.end = end
        self.timeZone = timeZone
    }

    var json: JSONValue {
        func time(_ date: Date) -> JSONValue {
            var object: [String: JSONValue] = ["dateTime": .string(date.formatted(.iso8601))]
            if let timeZone { object["timeZone"] = .string(timeZone) }
            return .object(object)
        }
        var object: [String: JSONValue] = ["summary": .string(summary), "start": time(start), "end": time(end)]
        if let description { object["description"] = .string(description) }
        if let location { object["location"] = .string(location) }
        return .object(object)
    }
}
