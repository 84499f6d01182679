import MoeenCore
import Testing

@Suite("Redaction")
struct RedactorTests {
    @Test("phones keep the last four digits; e-mails keep the first letter and domain")
    func personalData() {
        let redactor = Redactor()
        #expect(Redactor.maskPhone("+966501234567") == "+********4567")
        #expect(Redactor.maskEmail("amal@example.org") == "a***@example.org")
        #expect(redactor.redact("send to +966501234567 and amal@example.org")
            == "send to +********4567 and a***@example.org")
    }

    @Test("Authorization values, bearer tokens and URL query credentials are removed")
    func credentials() {
        let redactor = Redactor()
        #expect(redactor.redact("Authorization: Bearer abc.def-123") == "Authorization: [REDACTED]")
        #expect(redactor.redact("header Bearer abcdef123456") == "header Bearer [REDACTED]")
        #expect(redactor.redactURL("https://x.example.org/a?access_token=s3cr3t&limit=5&key=k1")
            == "https://x.example.org/a?access_token=[REDACTED]&limit=5&key=[REDACTED]")
    }

    @Test("given secrets are removed anywhere; JSON secret keys and phone keys are masked")
    func json() {
        let redactor = Redactor(secrets: ["fake-secret-value"])
        #expect(redactor.redact("the value fake-secret-value leaked") == "the value [REDACTED] leaked")
        let body: JSONValue = [
            "auth_token": "tok", "to": "+15550001234", "wa_id": "966501234567",
            "nested": ["note": "key fake-secret-value", "client_secret": "x"], "count": 3,
        ]
        let expected: JSONValue = [
            "auth_token": "[REDACTED]", "to": "+*******1234", "wa_id": "********4567",
            "nested": ["note": "key [REDACTED]", "client_secret": "[REDACTED]"], "count": 3,
        ]
        #expect(redactor.redact(body) == expected)
    }

    @Test("headers: Authorization value removed, names kept")
    func headers() {
        let headers = Redactor().redactHeaders([("Authorization", "Basic QUM6dG9rZW4="), ("Accept", "application/json")])
        #expect(headers.map(\.name) == ["Authorization", "Accept"])
        #expect(headers.map(\.value) == ["[REDACTED]", "application/json"])
    }
}
