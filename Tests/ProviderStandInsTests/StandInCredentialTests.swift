import Foundation
import MoeenCore
import ProviderStandIns
import Testing

/// The stand-ins check credentials the way each provider does and answer with its error shapes.
@Suite("Stand-in credential checks")
struct StandInCredentialTests {
    static let client = AsyncHTTPClientTransport.makeClient()

    func get(_ url: String, headers: [(name: String, value: String)] = []) async throws -> InboundResponse {
        try await AsyncHTTPClientTransport(client: Self.client).send(OutboundRequest(method: "GET", url: url, headers: headers, timeout: .seconds(60)))
    }

    @Test("WhatsApp: no token is Graph error 104, a wrong one 190, the right one the phone number; requests are recorded")
    func whatsapp() async throws {
        let standIn = WhatsAppStandIn()
        let base = try await standIn.start()
        let settings = standIn.workingSettings(baseURL: base)
        let url = "\(settings["api_url"] ?? "")/\(settings["phone_number_id"] ?? "")"
        let missing = try await get(url)
        let wrong = try await get(url, headers: [("Authorization", "Bearer nope")])
        let right = try await get(url, headers: [("Authorization", "Bearer \(settings["access_token"] ?? "")")])
        let recorded = await standIn.recorder.count
        try await standIn.shutdown()

        #expect(missing.status == 401)
        #expect(JSONValue.parse(missing.body)?["error"]?["code"] == .number(104))
        #expect(wrong.status == 401)
        #expect(JSONValue.parse(wrong.body)?["error"]?["code"] == .number(190))
        #expect(right.status == 200)
        #expect(JSONValue.parse(right.body)?["verified_name"]?.stringValue == "Moeen Test Centre")
        #expect(recorded == 3)
    }

    @Test("Twilio: HTTP Basic with the account SID and auth token; a wrong token is error 20003 Authenticate")
    func twilio() async throws {
        let standIn = TwilioStandIn()
        let base = try await standIn.start()
        let settings = standIn.workingSettings(baseURL: base)
        let sid = settings["account_sid"] ?? ""
        let url = "\(base.absoluteString)/2010-04-01/Accounts/\(sid).json"
        let good = Data("\(sid):\(settings["auth_token"] ?? "")".utf8).base64EncodedString()
        let bad = Data("\(sid):wrong".utf8).base64EncodedString()
        let accepted = try await get(url, headers: [("Authorization", "Basic \(good)")])
        let refused = try await get(url, headers: [("Authorization", "Basic \(bad)")])
        try await standIn.shutdown()

        #expect(accepted.status == 200)
        #expect(JSONValue.parse(accepted.body)?["status"]?.stringValue == "active")
        #expect(refused.status == 401)
        #expect(JSONValue.parse(refused.body)?["code"] == .number(20003))
        #expect(JSONValue.parse(refused.body)?["message"]?.stringValue == "Authenticate")
    }
}

