import Foundation
import MoeenCore
import Testing

@Suite("Integration catalogue")
struct CatalogueTests {
    @Test("default row names are the original's")
    func defaultNames() {
        #expect(IntegrationType.allCases.map(\.defaultName) == [
            "WhatsApp Business API", "Twilio SMS Gateway", "SendGrid Email Service", "Google Calendar Integration",
            "Slack Notifications", "Seha Platform Integration", "Tatman Insurance",
        ])
        #expect(IntegrationType.googleCalendar.rawValue == "google_calendar")
    }

    @Test("secret fields are exactly the credentials")
    func secrets() {
        let secrets = Set(IntegrationType.allCases.flatMap { IntegrationCatalog.secretFieldNames(for: $0) })
        #expect(secrets == ["access_token", "webhook_verify_token", "app_secret", "auth_token", "api_key",
                            "client_secret", "refresh_token", "webhook_url", "signing_secret",
                            "webhook_channel_token", "webhook_secret"])
    }

    @Test("fields encode with the API's snake_case keys")
    func encoding() throws {
        let data = try JSONEncoder().encode(IntegrationCatalog.all)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(json.count == 7)
        let whatsapp = try #require(json.first)
        #expect(whatsapp["type"] as? String == "whatsapp")
        #expect(whatsapp["name"] as? String == "WhatsApp Business API")
        let fields = try #require(whatsapp["fields"] as? [[String: Any]])
        let apiURL = try #require(fields.first { $0["name"] as? String == "api_url" })
        #expect(apiURL["default"] as? String == "https://graph.facebook.com/v17.0")
        #expect(apiURL["kind"] as? String == "url")
        #expect(apiURL["label_ar"] is String && apiURL["label_en"] is String)
        let token = try #require(fields.first { $0["name"] as? String == "access_token" })
        #expect(token["secret"] as? Bool == true && token["required"] as? Bool == true)
        #expect(token.keys.contains("default"))
    }
}

@Suite("Settings validation")
struct ValidationTests {
    let goodTwilio = [
        "account_sid": "AC" + String(repeating: "0", count: 30) + "aa",
        "auth_token": "fake-token", "from_number": "+15550000002",
    ]

    @Test("good settings have no problems")
    func good() {
        #expect(IntegrationCatalog.validate(type: .sms, config: goodTwilio).isEmpty)
        #expect(IntegrationCatalog.validate(type: .whatsapp, config: [
            "access_token": "fake", "phone_number_id": "100000000000001",
        ]).isEmpty)
    }

    @Test("missing required fields are named")
    func required() {
        let problems = IntegrationCatalog.validate(type: .googleCalendar, config: ["client_id": "x"])
        #expect(problems["client_secret"] == "Client secret is required")
        #expect(problems["refresh_token"] != nil)
        #expect(problems["calendar_id"] == nil, "calendar_id has a default")
    }

    @Test("Twilio needs from_number or messaging_service_sid, and a well-formed SID")
    func twilio() {
        var config = goodTwilio
        config["from_number"] = nil
        #expect(IntegrationCatalog.validate(type: .sms, config: config)["from_number"]
            == "From number or messaging service SID is required")
        config["messaging_service_sid"] = "MG" + String(repeating: "1", count: 32)
        #expect(IntegrationCatalog.validate(type: .sms, config: config).isEmpty)
        config["account_sid"] = "AC123"
        #expect(IntegrationCatalog.validate(type: .sms, config: config)["account_sid"]?.contains("32 hexadecimal") == true)
    }

    @Test("formats: URL, E.164, e-mail, unknown fields")
    func formats() {
        let sms = IntegrationCatalog.validate(type: .sms, config: goodTwilio.merging(["from_number": "0555"]) { $1 })
        #expect(sms["from_number"]?.contains("E.164") == true)
        let email = IntegrationCatalog.validate(type: .email, config: [
            "api_key": "k", "from_email": "not-an-email", "api_url": "ftp://example.org", "colour": "blue",
        ])
        #expect(email["from_email"] == "From e-mail must be an e-mail address")
        #expect(email["api_url"] == "API URL must be an absolute http(s) URL")
        #expect(email["colour"] == "Unknown setting for email: colour")
        #expect(IntegrationCatalog.isE164("+966501234567"))
        #expect(!IntegrationCatalog.isE164("+1234567"))
        #expect(!IntegrationCatalog.isE164("+1234567890123456"))
    }
}
