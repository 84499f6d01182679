import MoeenCore
import Testing

@Suite("Duration text")
struct DurationTextTests {
    @Test("units and bare seconds", arguments: [
        ("200ms", Duration.milliseconds(200)),
        ("5s", .seconds(5)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3600)),
        ("300", .seconds(300)),
        ("0", .zero),
        ("0ms", .zero),
        ("007s", .seconds(7)),
        (" 90s\n", .seconds(90)),
        ("\t1h ", .seconds(3600)),
        ("168h", .seconds(7 * 24 * 3600)),
    ])
    func units(raw: String, expected: Duration) {
        #expect(DurationText.parse(raw) == expected)
    }

    @Test("exact fractions", arguments: [
        ("1.5s", Duration.milliseconds(1500)),
        ("1.5", .milliseconds(1500)),
        ("0.25h", .seconds(900)),
        ("1.5m", .seconds(90)),
        ("0.001s", .milliseconds(1)),
        ("2.000000000000000000000s", .seconds(2)),
        ("1.0ms", .milliseconds(1)),
        ("0.00001h", .milliseconds(36)),
    ])
    func fractions(raw: String, expected: Duration) {
        #expect(DurationText.parse(raw) == expected)
    }

    @Test("junk and negatives are refused", arguments: [
        "", " ", "s", "ms", "h", "-5s", "+5s", "-1", "5 s", "5S", "5H", "5sec", "5min", "5d", "1h30m", "5ss",
        "1.5ms", "0.0001s", ".5s", "5.s", "1.2.3s", "1,5s", "١s", "five", "5s5", "0x10", "1e3", "inf", "nan",
        "1.0000000001s", "0.000001h",
    ])
    func junk(raw: String) {
        #expect(DurationText.parse(raw) == nil)
    }

    @Test("overflow is nil, never a trap", arguments: [
        "99999999999999999h",
        "9223372036854775807s",
        "9223372036854775808",
        "9223372036854775808ms",
        "99999999999999999999999999999999",
        "153722867280913m",
        "9223372036854775.808",
        "2562047788015.5h",
    ])
    func overflow(raw: String) {
        #expect(DurationText.parse(raw) == nil)
    }

    @Test("largest values still parse")
    func largest() {
        #expect(DurationText.parse("9223372036854775807ms") == .milliseconds(Int64.max))
        #expect(DurationText.parse("9223372036854775.807") == .milliseconds(Int64.max))
        #expect(DurationText.parse("2562047788015h") == .seconds(2_562_047_788_015 * 3600))
    }

    @Test("format gives the shortest exact form", arguments: [
        (Duration.milliseconds(1500), "1500ms"),
        (.seconds(5), "5s"),
        (.seconds(120), "2m"),
        (.seconds(3600), "1h"),
        (.seconds(90), "90s"),
        (.seconds(5400), "90m"),
        (.seconds(86_400), "24h"),
        (.milliseconds(1), "1ms"),
        (.zero, "0s"),
        (.microseconds(500), "0.5ms"),
        (.nanoseconds(1_000_001), "1.000001ms"),
        (.seconds(-5), "-5s"),
        (.milliseconds(-1500), "-1500ms"),
    ])
    func format(duration: Duration, expected: String) {
        #expect(DurationText.format(duration) == expected)
    }

    @Test("format and parse round-trip", arguments: [
        "200ms", "5s", "2m", "1h", "1500ms", "90s", "0s", "59999ms", "61m", "9223372036854775807ms",
    ])
    func roundTrip(text: String) throws {
        let parsed = try #require(DurationText.parse(text))
        #expect(DurationText.format(parsed) == text)
        #expect(DurationText.parse(DurationText.format(parsed)) == parsed)
    }

    @Test("round-trip over many values")
    func roundTripMany() throws {
        for milliseconds: Int64 in [0, 1, 999, 1000, 1001, 59_000, 60_000, 3_599_999, 3_600_000, 7_200_000, 86_400_000] {
            let duration = Duration.milliseconds(milliseconds)
            #expect(DurationText.parse(DurationText.format(duration)) == duration)
        }
        #expect(DurationText.format(try #require(DurationText.parse("300"))) == "5m")
        #expect(DurationText.format(try #require(DurationText.parse("1.5h"))) == "90m")
    }

    @Test("format never traps on extreme durations")
    func formatExtremes() {
        let huge = Duration.seconds(Int64.max) * 10
        #expect(!DurationText.format(huge).isEmpty)
        #expect(!DurationText.format(.zero - huge).isEmpty)
        #expect(!DurationText.format(.seconds(Int64.min)).isEmpty)
    }
}
