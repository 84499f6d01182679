import Foundation
import MoeenCore
import Testing

@Suite("Quiet hours")
struct QuietHoursTests {
    static let riyadh = TimeZone(identifier: "Asia/Riyadh")!

    static func at(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)!
    }

    @Test("a window across midnight in Asia/Riyadh: inside until 08:00 the next morning, whichever side of midnight")
    func acrossMidnight() {
        let window = QuietHours(start: 21 * 60, end: 8 * 60, timeZone: Self.riyadh)
        // 22:30 Riyadh (19:30 UTC) → 08:00 Riyadh the next day (05:00 UTC).
        #expect(window.end(containing: Self.at("2026-12-01T19:30:00Z")) == Self.at("2026-12-02T05:00:00Z"))
        // 02:00 Riyadh (23:00 UTC the day before) → 08:00 Riyadh the same morning.
        #expect(window.end(containing: Self.at("2026-12-01T23:00:00Z")) == Self.at("2026-12-02T05:00:00Z"))
        // 21:00 sharp is inside, 08:00 sharp is not; 20:59 and 12:00 are not.
        #expect(window.end(containing: Self.at("2026-12-01T18:00:00Z")) == Self.at("2026-12-02T05:00:00Z"))
        #expect(window.end(containing: Self.at("2026-12-02T05:00:00Z")) == nil)
        #expect(window.end(containing: Self.at("2026-12-01T17:59:00Z")) == nil)
        #expect(window.end(containing: Self.at("2026-12-01T09:00:00Z")) == nil)
    }

    @Test("days name the evening a window starts on: with Thursday only, Thursday night and Friday early morning are quiet, Friday night is not")
    func days() {
        // ISO weekday 4 = Thursday. 2026-12-03 is a Thursday.
        let window = QuietHours(start: 21 * 60, end: 8 * 60, days: [4], timeZone: Self.riyadh)
        #expect(window.end(containing: Self.at("2026-12-03T20:00:00Z")) == Self.at("2026-12-04T05:00:00Z"))  // Thu 23:00
        #expect(window.end(containing: Self.at("2026-12-04T03:00:00Z")) == Self.at("2026-12-04T05:00:00Z"))  // Fri 06:00
        #expect(window.end(containing: Self.at("2026-12-04T19:00:00Z")) == nil)  // Fri 22:00
        #expect(window.end(containing: Self.at("2026-12-02T20:00:00Z")) == nil)  // Wed 23:00
    }

    @Test("a window within one day, and times of day as text")
    func sameDayAndParsing() {
        let window = QuietHours(start: 13 * 60, end: 14 * 60, timeZone: Self.riyadh)
        #expect(window.end(containing: Self.at("2026-12-01T10:30:00Z")) == Self.at("2026-12-01T11:00:00Z"))
        #expect(window.end(containing: Self.at("2026-12-01T11:00:00Z")) == nil)
        #expect(QuietHours.minutes("21:00") == 1260)
        #expect(QuietHours.minutes("00:00") == 0)
        #expect(QuietHours.minutes("23:59") == 1439)
        for bad in ["24:00", "9:00", "21:60", "21-00", "٢١:٠٠", "", "21:00:00"] { #expect(QuietHours.minutes(bad) == nil, "\(bad)") }
        #expect(QuietHours.text(1260) == "21:00")
    }
}

@Suite("Rate limits")
struct RateLimitTests {
    @Test("settings text: decimals above 0 up to 1000 or unlimited; bursts 1 to 1000; absent values take the type's default")
    func parsing() throws {
        let defaults = RateLimit.limited(rate: 10, burst: 5)
        #expect(try RateLimit.parse(perSecond: nil, burst: nil, defaults: defaults).get() == defaults)
        #expect(try RateLimit.parse(perSecond: "0.5", burst: nil, defaults: defaults).get() == .limited(rate: 0.5, burst: 5))
        #expect(try RateLimit.parse(perSecond: "1000", burst: "1000", defaults: defaults).get() == .limited(rate: 1000, burst: 1000))
        #expect(try RateLimit.parse(perSecond: "Unlimited", burst: "3", defaults: defaults).get() == .unlimited)
        for bad in ["0", "-1", "1000.5", "fast", "1e3", "nan", "inf", " 5 x"] {
            if case .success = RateLimit.parse(perSecond: bad, burst: nil, defaults: defaults) { Issue.record("accepted \(bad)") }
        }
        for bad in ["0", "1001", "2.5", "many"] {
            guard case .failure(let problems) = RateLimit.parse(perSecond: nil, burst: bad, defaults: defaults) else {
                Issue.record("accepted burst \(bad)"); continue
            }
            #expect(problems.fields["rate_limit_burst"] != nil)
        }
    }

    @Test("GCRA: the burst conforms at once, then one slot per interval; a later slot is reserved, not refused")
    func reservations() {
        let limit = RateLimit.limited(rate: 4, burst: 3)
        #expect(limit.intervalMilliseconds == 250)
        #expect(limit.toleranceMilliseconds == 500)
        var tat: Int64 = 0
        var slots: [Int64] = []
        for _ in 0..<6 {
            let (slot, next) = limit.reserve(tat: tat, now: 10_000)
            slots.append(slot)
            tat = next
        }
        #expect(slots == [10_000, 10_000, 10_000, 10_250, 10_500, 10_750])
        let unlimited = RateLimit.unlimited.reserve(tat: 99, now: 5)
        #expect(unlimited.slot == 5 && unlimited.newTAT == 99)
    }

    @Test("the catalogue's messaging types carry the limit settings with PROVIDERS.md's defaults")
    func catalogueDefaults() {
        #expect(IntegrationCatalog.rateLimit(type: .whatsapp, config: [:]) == .limited(rate: 80, burst: 20))
        #expect(IntegrationCatalog.rateLimit(type: .sms, config: [:]) == .limited(rate: 10, burst: 5))
        #expect(IntegrationCatalog.rateLimit(type: .email, config: [:]) == .limited(rate: 100, burst: 50))
        #expect(IntegrationCatalog.rateLimit(type: .slack, config: [:]) == .limited(rate: 1, burst: 1))
        #expect(IntegrationCatalog.rateLimit(type: .sms, config: ["rate_limit_per_second": "unlimited"]) == .unlimited)
        #expect(IntegrationCatalog.fields(for: .seha).contains { $0.name == "rate_limit_per_second" } == false)
        #expect(IntegrationCatalog.validate(type: .slack, config: ["webhook_url": "https://hooks.slack.com/services/T/B/x", "rate_limit_burst": "0"])["rate_limit_burst"] != nil)
    }
}
