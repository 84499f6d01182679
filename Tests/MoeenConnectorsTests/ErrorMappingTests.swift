import Foundation
@testable import MoeenConnectors
import MoeenCore
import Testing

/// Mapping of provider answers that the stand-ins don't produce by default.
@Suite("Error mapping")
struct ErrorMappingTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func response(_ status: Int, _ body: String, _ headers: [(name: String, value: String)] = []) -> InboundResponse {
        InboundResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    @Test("WhatsApp codes decide, not only the status", arguments: [
        (400, 131056, ProviderError.Kind.retryable, ProviderError.Category.rateLimited),
        (400, 80007, .retryable, .rateLimited),
        (400, 4, .retryable, .rateLimited),
        (400, 17, .retryable, .rateLimited),
        (400, 131048, .retryable, .rateLimited),
        (401, 190, .permanent, .credentials),
        (400, 104, .permanent, .credentials),
        (400, 100, .permanent, .badRequest),
        (400, 131026, .permanent, .recipient),
    ])
    func whatsapp(status: Int, code: Int, kind: ProviderError.Kind, category: ProviderError.Category) {
        let error = WhatsAppConnector.error(from: response(status, #"{"error":{"message":"m","type":"OAuthException","code":\#(code),"fbtrace_id":"A"}}"#), now: now)
        #expect(error.kind == kind)
        #expect(error.category == category)
        #expect(error.code == String(code))
    }

    @Test("WhatsApp is_transient and usage headers")
    func whatsappTransient() {
        let transient = WhatsAppConnector.error(from: response(500, #"{"error":{"message":"m","code":99999,"is_transient":true}}"#), now: now)
        #expect(transient.kind == .retryable)
        let usage = WhatsAppConnector.error(from: response(400, #"{"error":{"message":"m","code":80007}}"#, [
            ("x-business-use-case-usage", #"{"1":[{"type":"whatsapp","call_count":100,"estimated_time_to_regain_access":3}]}"#),
        ]), now: now)
        #expect(usage.retryAfter == .seconds(180))
    }

    @Test("Twilio codes and 5xx")
    func twilio() {
        #expect(TwilioConnector.error(from: response(400, #"{"code":21614,"message":"not a mobile number","status":400}"#), now: now).category == .recipient)
        #expect(TwilioConnector.error(from: response(429, #"{"code":20429,"message":"Too Many Requests","status":429}"#), now: now).kind == .retryable)
        #expect(TwilioConnector.error(from: response(502, "<html>bad gateway</html>"), now: now).category == .server)
    }

    @Test("SendGrid 413 is permanent; X-RateLimit-Reset gives the retry-after")
    func sendGrid() {
        #expect(SendGridConnector.error(from: response(413, #"{"errors":[{"message":"too big","field":null}]}"#), now: now).kind == .permanent)
        let limited = SendGridConnector.error(from: response(429, #"{"errors":[{"message":"too many requests","field":null}]}"#,
                                                             [("X-RateLimit-Reset", "1800000045")]), now: now)
        #expect(limited.retryAfter == .seconds(45))
        #expect(limited.kind == .retryable)
    }

    @Test("Google 403 rate-limit reasons are retryable; other 403 and 404 are permanent")
    func google() {
        func body(_ code: Int, _ reason: String) -> String {
            #"{"error":{"errors":[{"domain":"usageLimits","reason":"\#(reason)","message":"m"}],"code":\#(code),"message":"m"}}"#
        }
        #expect(GoogleCalendarConnector.error(from: response(403, body(403, "userRateLimitExceeded")), now: now).kind == .retryable)
        #expect(GoogleCalendarConnector.error(from: response(403, body(403, "rateLimitExceeded")), now: now).category == .rateLimited)
        #expect(GoogleCalendarConnector.error(from: response(403, body(403, "forbidden")), now: now).kind == .permanent)
        #expect(GoogleCalendarConnector.error(from: response(404, body(404, "notFound")), now: now).category == .notFound)
        #expect(GoogleCalendarConnector.error(from: response(429, body(429, "rateLimitExceeded"),
                                                              [("Retry-After", "Fri, 15 Jan 2027 08:00:10 GMT")]),
                                              now: Date(timeIntervalSince1970: 1_800_000_000)).kind == .retryable)
    }

    @Test("Slack plain-text errors and Retry-After")
    func slack() {
        let limited = SlackConnector.error(from: response(429, "rate_limited", [("Retry-After", "2")]), now: now)
        #expect(limited.retryAfter == .seconds(2))
        #expect(limited.kind == .retryable)
        #expect(SlackConnector.error(from: response(404, "channel_not_found"), now: now).category == .notFound)
        #expect(SlackConnector.error(from: response(403, "action_prohibited"), now: now).category == .forbidden)
        #expect(SlackConnector.error(from: response(400, "invalid_payload"), now: now).kind == .permanent)
    }
}
