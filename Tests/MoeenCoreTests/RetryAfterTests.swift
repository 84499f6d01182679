import Foundation
import MoeenCore
import Testing

@Suite("Retry-After")
struct RetryAfterTests {
    @Test("seconds and HTTP dates")
    func parse() {
        let now = Date(timeIntervalSince1970: 1_445_412_400) // Wed, 21 Oct 2015 07:26:40 GMT
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(80))
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.fromEpochReset("1445412430", now: now) == .seconds(30))
    }

    @Test("a provider's absurd hint is a long delay, never a trap", arguments: ["1e300", "1e18", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
    func absurd(value: String) {
        let now = Date(timeIntervalSince1970: 1_445_412_400)
        #expect(RetryAfter.parse(value, now: now) == .seconds(Int64(RetryAfter.longest)) || value.contains("9999"))
        #expect((RetryAfter.parse(value, now: now) ?? .zero) <= .seconds(Int64(RetryAfter.longest)))
        #expect((RetryAfter.fromEpochReset("1e300", now: now) ?? .zero) == .seconds(Int64(RetryAfter.longest)))
    }

    @Test("form encoding round-trips")
    func form() {
        let encoded = FormURLEncoding.encode([("To", "+15550001234"), ("Body", "مرحبا & hi")])
        #expect(encoded.hasPrefix("To=%2B15550001234&Body="))
        #expect(FormURLEncoding.decode(encoded).map(\.1) == ["+15550001234", "مرحبا & hi"])
    }
}

@Suite("Hex")
struct HexTests {
    @Test("lower-case, two digits a byte, as the stored hashes always were")
    func encode() {
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.encode([UInt8]()) == "")
        let bytes = (0...255).map(UInt8.init)
        #expect(Hex.encode(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
    }
}
