import MoeenCore
import Testing

@Suite("Phone numbers")
struct PhoneNumberTests {
    @Test("Saudi forms normalise to E.164", arguments: [
        "+966551234567",
        "0551234567",
        "551234567",
        "966551234567",
        "00966551234567",
        "055 123 4567",
        "055-123-4567",
        "055.123.4567",
        "(055) 123 4567",
        "+966 55 123 4567",
        "+966-55-123-4567",
        "(+966) 55.123.4567",
        "00 966 55 123 4567",
        "  0551234567\n",
        "055\u{00A0}123\u{00A0}4567",
        "055\u{2013}123\u{2013}4567",
        "\u{200F}+966 55 123 4567\u{200E}",
        "٠٥٥١٢٣٤٥٦٧",
        "۰۵۵۱۲۳۴۵۶۷",
        "+٩٦٦٥٥١٢٣٤٥٦٧",
        "٠٠٩٦٦ ٥٥ ١٢٣ ٤٥٦٧",
        "05٥1234567",
    ])
    func saudiForms(raw: String) {
        #expect(PhoneNumber.normalizeE164(raw) == "+966551234567")
    }

    @Test("the forms staff type for a 050 mobile all give one E.164 number", arguments: [
        ("0501234567", "+966501234567"),
        ("501234567", "+966501234567"),
        ("966501234567", "+966501234567"),
        ("00966501234567", "+966501234567"),
        ("+966501234567", "+966501234567"),
        ("+966 50 123 4567", "+966501234567"),
        ("050 123 4567", "+966501234567"),
        ("٠٥٠١٢٣٤٥٦٧", "+966501234567"),
        ("0591234567", "+966591234567"),
    ])
    func mobileForms(raw: String, expected: String) {
        #expect(PhoneNumber.normalizeE164(raw) == expected)
    }

    @Test("near misses of a 050 mobile are refused, never guessed", arguments: [
        "050123456",
        "05012345678",
        "50123456",
        "5012345678",
        "+966 50 123 456",
        "+966 050 123 4567",
        "0966501234567",
        "00966 050 123 4567",
        "050-123-4567 x1",
        "phone: 0501234567",
        "+966",
        "0",
    ])
    func mobileNearMisses(raw: String) {
        #expect(PhoneNumber.normalizeE164(raw) == nil)
    }

    @Test("Saudi landlines and unified numbers")
    func saudiOtherNumbers() {
        #expect(PhoneNumber.normalizeE164("011 234 5678") == "+966112345678")
        #expect(PhoneNumber.normalizeE164("112345678") == "+966112345678")
        #expect(PhoneNumber.normalizeE164("920012345") == "+966920012345")
        #expect(PhoneNumber.normalizeE164("0551234567", defaultCountry: "966") == "+966551234567")
    }

    @Test("other countries with + or 00", arguments: [
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+1 (555) 000-1234", "+15550001234"),
        ("+971 50 123 4567", "+971501234567"),
        ("+20 10 1234 5678", "+201012345678"),
        ("+4915123456789", "+4915123456789"),
        ("+12345678", "+12345678"),
        ("+123456789012345", "+123456789012345"),
    ])
    func international(raw: String, expected: String) {
        #expect(PhoneNumber.normalizeE164(raw) == expected)
    }

    @Test("refused inputs", arguments: [
        "",
        "   ",
        "+",
        "00",
        "abc",
        "055123456a",
        "O551234567",
        "055 123 4567 ext 2",
        "055/123/4567",
        "055*1234567",
        "96+6551234567",
        "0551234567+",
        "++966551234567",
        "+966+551234567",
        "+1234567",
        "+1234567890123456",
        "+0551234567",
        "000966551234567",
        "+9660551234567",
        "+96655123456",
        "+9665512345678",
        "055123456",
        "05512345678",
        "55123456",
        "5512345678",
        "96655123456",
        "9665512345678",
        "9660551234567",
        "0",
        "12345",
        "055١٢٣٤٥٦٧x",
        "०५५१२३४५६७",
    ])
    func refused(raw: String) {
        #expect(PhoneNumber.normalizeE164(raw) == nil)
    }

    @Test("local forms need a known default country")
    func otherDefaultCountry() {
        #expect(PhoneNumber.normalizeE164("0551234567", defaultCountry: "971") == nil)
        #expect(PhoneNumber.normalizeE164("551234567", defaultCountry: "971") == nil)
        #expect(PhoneNumber.normalizeE164("+966551234567", defaultCountry: "971") == "+966551234567")
        #expect(PhoneNumber.normalizeE164("00971501234567", defaultCountry: "971") == "+971501234567")
    }

    @Test("very long input is refused")
    func longInput() {
        #expect(PhoneNumber.normalizeE164("+966551234567" + String(repeating: " ", count: 100)) == nil)
    }

    @Test("masking keeps the country code, one digit and the last three", arguments: [
        ("+966551234567", "+9665•••••567"),
        ("055 123 4567", "+9665•••••567"),
        ("+15550001234", "+15••••••234"),
        ("+442079460958", "+442••••••958"),
        ("+971501234567", "+9715•••••567"),
        ("+12345678", "+12•••678"),
        ("not a number", "•••"),
        ("", "•••"),
    ])
    func masking(raw: String, expected: String) {
        #expect(PhoneNumber.masked(raw) == expected)
    }
}

@Suite("E-mail addresses")
struct EmailAddressTests {
    @Test("normalise trims and lower-cases", arguments: [
        ("fatima@example.org", "fatima@example.org"),
        ("  Fatima@Example.ORG \n", "fatima@example.org"),
        ("first.last+tag@mail.example.sa", "first.last+tag@mail.example.sa"),
    ])
    func normalize(raw: String, expected: String) {
        #expect(EmailAddress.normalize(raw) == expected)
    }

    @Test("refused addresses", arguments: [
        "",
        "fatima",
        "@example.org",
        "fatima@",
        "fatima@example",
        "fatima@@example.org",
        "fa@tima@example.org",
        "fatima@example..org",
        "fatima@.org",
        "fat ima@example.org",
        "fatima@exa mple.org",
        "fatima@example.org.",
    ])
    func refused(raw: String) {
        #expect(EmailAddress.normalize(raw) == nil)
    }

    @Test("too long is refused")
    func tooLong() {
        let local = String(repeating: "a", count: 64)
        let domain = String(repeating: "b", count: 200) + ".org"
        #expect(EmailAddress.normalize(local + "@" + domain) == nil)
        #expect(EmailAddress.normalize(String(repeating: "a", count: 65) + "@example.org") == nil)
    }

    @Test("masking", arguments: [
        ("fatima@example.org", "f•••••@example.org"),
        ("A@Example.org", "a•••••@example.org"),
        ("nope", "•••"),
    ])
    func masking(raw: String, expected: String) {
        #expect(EmailAddress.masked(raw) == expected)
    }
}
