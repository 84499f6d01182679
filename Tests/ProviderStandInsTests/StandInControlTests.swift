import Foundation
import MoeenCore
import ProviderStandIns
import Testing

/// The test-only control API under `/_standin/`: fault plans over HTTP, the send and attempt logs, counts;
/// never recorded as provider requests, never faulted.
@Suite("Stand-in control API")
struct StandInControlTests {
    static let client = AsyncHTTPClientTransport.makeClient()
    var transport: AsyncHTTPClientTransport { AsyncHTTPClientTransport(client: Self.client) }

    func call(_ method: String, _ url: String, json: JSONValue? = nil, form: [(String, String)]? = nil,
              headers: [(name: String, value: String)] = []) async throws -> InboundResponse {
        var headers = headers
        var body: [UInt8]?
        if let json {
            body = Array(json.jsonText().utf8)
            headers.append(("Content-Type", "application/json"))
        } else if let form {
            body = Array(FormURLEncoding.encode(form).utf8)
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        }
        return try await transport.send(OutboundRequest(method: method, url: url, headers: headers, body: body,
                                                        timeout: .seconds(60)))
    }

    /// Sends one SMS to the Twilio stand-in at `base`.
    func sms(_ base: URL, to: String, text: String) async throws -> InboundResponse {
        let settings = TwilioStandIn().workingSettings(baseURL: base)
        let sid = settings["account_sid"] ?? ""
        let basic = Data("\(sid):\(settings["auth_token"] ?? "")".utf8).base64EncodedString()
        return try await call("POST", "\(base.absoluteString)/2010-04-01/Accounts/\(sid)/Messages.json",
                              form: [("To", to), ("From", settings["from_number"] ?? ""), ("Body", text)],
                              headers: [("Authorization", "Basic \(basic)")])
    }

    func data(_ response: InboundResponse) -> [JSONValue] {
        JSONValue.parse(response.body)?["data"]?.arrayValue ?? []
    }

    func withTwilio(_ body: (TwilioStandIn, URL) async throws -> Void) async throws {
        let standIn = TwilioStandIn()
        let base = try await standIn.start()
        do {
            try await body(standIn, base)
            try await standIn.shutdown()
        } catch {
            try? await standIn.shutdown()
            throw error
        }
    }

    @Test("PUT /_standin/faults sets a 429 with Retry-After; the attempts show each answer, the sends the accepted one")
    func faultsAndLogs() async throws {
        try await withTwilio { standIn, base in
            let control = base.absoluteString + "/_standin"
            let put = try await call("PUT", control + "/faults", json: ["rate_limit_rate": 1, "rate_limit_retry_after": 2])
            #expect(put.status == 200)
            #expect(JSONValue.parse(put.body)?["rate_limit_retry_after"] == .number(2))
            #expect(try await call("GET", control + "/faults").status == 200)

            let limited = try await sms(base, to: "+966551234567", text: "tag-1 first")
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "2")
            #expect(JSONValue.parse(limited.body)?["code"] == .number(20429))

            #expect(try await call("PUT", control + "/faults", json: [:]).status == 200)
            let accepted = try await sms(base, to: "+966551234567", text: "tag-1 first")
            #expect(accepted.status == 201)
            let sid = JSONValue.parse(accepted.body)?["sid"]?.stringValue

            let attempts = data(try await call("GET", control + "/attempts"))
            #expect(attempts.count == 2)
            #expect(attempts.first?["status"] == .number(429))
            #expect(attempts.first?["retry_after"] == .number(2))
            #expect(attempts.first?["fault"] == "rate_limit")
            #expect(attempts.first?["text"] == "tag-1 first")
            #expect(attempts.last?["status"] == .number(201))
            #expect(attempts.last?["provider_id"]?.stringValue == sid)
            #expect(attempts.last?["fault"] == nil)
            if let at = attempts.last?["at"], case .number(let text) = at, let answered = attempts.last?["answered_at"],
               case .number(let answeredText) = answered {
                #expect((Double(text) ?? 0) <= (Double(answeredText) ?? -1))
            } else {
                Issue.record("attempt times missing: \(attempts)")
            }
            #expect(data(try await call("GET", control + "/attempts?after=1")).count == 1)

            let sends = data(try await call("GET", control + "/sends"))
            #expect(sends.count == 1)
            #expect(sends.first?["provider_id"]?.stringValue == sid)
            #expect(sends.first?["to"] == "+966551234567")
            #expect(sends.first?["text"] == "tag-1 first")

            let stats = JSONValue.parse(try await call("GET", control + "/stats").body)
            #expect(stats?["attempts"] == .number(2))
            #expect(stats?["sends"] == .number(1))
            #expect(stats?["requests"] == .number(2), "control calls are not provider requests")
            #expect(stats?["statuses"]?["429"] == .number(1))
            #expect(stats?["faults"]?["rate_limit"] == .number(1))
            #expect(await standIn.recorder.count == 2)
            #expect(await standIn.sends.sends.count == 1)

            #expect(try await call("POST", control + "/reset").status == 204)
            #expect(data(try await call("GET", control + "/attempts")).isEmpty)
            #expect(await standIn.recorder.count == 0)
        }
    }

    @Test("a bad plan is refused and changes nothing; an unknown key is named")
    func badPlans() async throws {
        try await withTwilio { standIn, base in
            let url = base.absoluteString + "/_standin/faults"
            #expect(try await call("PUT", url, json: ["error_rate": 1]).status == 200)
            let unknown = try await call("PUT", url, json: ["eror_rate": 1])
            #expect(unknown.status == 422)
            #expect(unknown.bodyText.contains("eror_rate"))
            #expect(try await call("PUT", url, json: ["error_rate": .number("0.7"), "drop_rate": .number("0.7")]).status == 422)
            #expect(try await call("PUT", url, json: ["seed": -1]).status == 422)
            #expect(try await call("PUT", url, headers: [("Content-Type", "application/json")]).status == 400)
            #expect(await standIn.faults.plan.errorRate == 1)
        }
    }

    @Test("the control API is not faulted: with every request hung it still answers, and clearing releases the send")
    func controlNotFaulted() async throws {
        try await withTwilio { standIn, base in
            let control = base.absoluteString + "/_standin"
            _ = try await call("PUT", control + "/faults", json: ["hang": true])
            let send = Task { try await sms(base, to: "+966551234567", text: "held") }
            var hung = false
            let deadline = ContinuousClock.now + .seconds(60)
            while !hung, ContinuousClock.now < deadline {
                hung = JSONValue.parse(try await call("GET", control + "/stats").body)?["hung"] == .number(1)
            }
            #expect(hung)
            #expect(data(try await call("GET", control + "/attempts")).first?["status"] == nil, "no answer yet")
            _ = try await call("PUT", control + "/faults", json: [:])
            #expect(try await send.value.status == 201)
            let attempt = data(try await call("GET", control + "/attempts")).first
            #expect(attempt?["fault"] == "hang")
            #expect(attempt?["status"] == .number(201))
            #expect(await standIn.recorder.count == 1)
        }
    }

    @Test("hang_for releases a held request by itself; drop_rate 1 closes the connection mid-body")
    func hangForAndDrop() async throws {
        try await withTwilio { _, base in
            let control = base.absoluteString + "/_standin"
            _ = try await call("PUT", control + "/faults", json: ["hang_rate": 1, "hang_for": "10ms"])
            #expect(try await sms(base, to: "+966551234567", text: "late").status == 201)

            _ = try await call("PUT", control + "/faults", json: ["drop_rate": 1])
            await #expect(throws: TransportError.self) { try await sms(base, to: "+966551234567", text: "dropped") }
            let attempts = data(try await call("GET", control + "/attempts"))
            #expect(attempts.map { $0["fault"] } == ["hang", "drop"])
            #expect(data(try await call("GET", control + "/sends")).map { $0["text"] } == ["late"])
        }
    }

    @Test("rejected recipients get Twilio's 21211 (never a fault instead), Graph's 131026 and SendGrid's errors array, and are not sent")
    func rejections() async throws {
        let plan: JSONValue = ["reject_recipients": ["+966500000009", "Gone@Example.org"]]

        try await withTwilio { _, base in
            _ = try await call("PUT", base.absoluteString + "/_standin/faults",
                               json: ["reject_recipients": ["+966500000009"], "error_rate": 1, "remaining": 1])
            let refused = try await sms(base, to: "+966500000009", text: "x")
            #expect(refused.status == 400)
            let body = JSONValue.parse(refused.body)
            #expect(body?["code"] == .number(21211))
            #expect(body?["status"] == .number(400))
            #expect(body?["message"]?.stringValue?.hasPrefix("Invalid 'To' Phone Number") == true)
            #expect(body?["more_info"] == "https://www.twilio.com/docs/errors/21211")
            #expect(try await sms(base, to: "+966551234567", text: "y").status == 201)
            let attempts = data(try await call("GET", base.absoluteString + "/_standin/attempts"))
            #expect(attempts.map { $0["status"] } == [.number(400), .number(201)])
        }

        let whatsapp = WhatsAppStandIn()
        let whatsappBase = try await whatsapp.start()
        let settings = whatsapp.workingSettings(baseURL: whatsappBase)
        _ = try await call("PUT", whatsappBase.absoluteString + "/_standin/faults", json: plan)
        let graph = try await call("POST", "\(settings["api_url"] ?? "")/\(settings["phone_number_id"] ?? "")/messages",
                                   json: ["messaging_product": "whatsapp", "to": "966500000009", "type": "text",
                                          "text": ["body": "x"]],
                                   headers: [("Authorization", "Bearer \(settings["access_token"] ?? "")")])
        let sent = await whatsapp.sends.sends.count
        let attempt = await whatsapp.sends.attempts.first
        let stats = try await call("GET", whatsappBase.absoluteString + "/_standin/stats")
        try await whatsapp.shutdown()
        #expect(graph.status == 400)
        let error = JSONValue.parse(graph.body)?["error"]
        #expect(error?["code"] == .number(131026))
        #expect(error?["type"] == "OAuthException")
        #expect(error?["message"] == "Message undeliverable")
        #expect(error?["error_data"]?["details"] != nil)
        #expect(error?["fbtrace_id"]?.stringValue != nil)
        #expect(sent == 0)
        #expect(attempt?.to == "+966500000009")
        #expect(attempt?.text == "x")
        #expect(stats.status == 200, "the control API is routed before the Graph API's /{version}/{id}")

        let sendgrid = SendGridStandIn()
        let sendgridBase = try await sendgrid.start()
        let mail = sendgrid.workingSettings(baseURL: sendgridBase)
        _ = try await call("PUT", sendgridBase.absoluteString + "/_standin/faults", json: plan)
        let refused = try await call("POST", sendgridBase.absoluteString + "/v3/mail/send", json: [
            "personalizations": [["to": [["email": "gone@example.org"]]]],
            "from": ["email": .string(mail["from_email"] ?? "")], "subject": "s",
            "content": [["type": "text/plain", "value": "x"]],
        ], headers: [("Authorization", "Bearer \(mail["api_key"] ?? "")")])
        let mailed = await sendgrid.sends.sends.count
        try await sendgrid.shutdown()
        #expect(refused.status == 400)
        let first = JSONValue.parse(refused.body)?["errors"]?.arrayValue?.first
        #expect(first?["message"] == "Does not contain a valid address.")
        #expect(first?["field"] == "personalizations.0.to.0.email")
        #expect(mailed == 0)
    }

    @Test("the sandbox starts only the types asked for; --only refuses unknown names")
    func sandboxOnly() async throws {
        let sandbox = StandInSandbox()
        let endpoints = try await sandbox.start(only: try SandboxCommand.types(named: "email, sms"))
        try await sandbox.shutdown()
        #expect(endpoints.map(\.type) == [.sms, .email])
        #expect(throws: (any Error).self) { try SandboxCommand.types(named: "sms,fax") }
        #expect(throws: (any Error).self) { try SandboxCommand.types(named: " , ") }
    }
}
