/// The one text form of every duration setting (intervals, timeouts, back-off limits), read and written the
/// same way everywhere so that an operator's `90s` means the same thing in every variable and every page.
public enum DurationText {
    /// Units understood, largest first, with their length in milliseconds.
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// The same units in the order suffixes must be tried (`ms` before `s` and `m`).
    private static let suffixOrder: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1_000),
    ]

    /// Most fraction digits considered after trailing zeros are dropped; more can never give whole milliseconds.
    private static let maximumFractionDigits = 9

    /// Reads `200ms`, `5s`, `5m`, `1h` or a bare number of seconds (`300`), with leading and trailing whitespace
    /// ignored. `nil` for anything else, never trapping.
    ///
    /// - The number is ASCII digits, optionally with a decimal fraction (`1.5s`, `0.25h`, `1.5` = 1.5 seconds);
    ///   digits are required on both sides of the `.`.
    /// - Units are lower-case and follow the number directly (`5 s`, `5S`, `5sec` are refused).
    /// - The result must be a whole number of milliseconds: `1.5s` is 1500 ms, but `1.5ms` and `0.0001s` are refused
    ///   rather than rounded.
    /// - No sign: negatives (and `+5s`) are refused.
    /// - Values beyond `Int64.max` milliseconds (about 292 million years) are refused: `99999999999999999h` is `nil`.
    ///   Callers still check the range that makes sense for their setting.
    public static func parse(_ raw: String) -> Duration? {
        let text = Substring(raw).trimmingASCIIAndUnicodeWhitespace()
        var number = text
        var unitMilliseconds: Int64 = 1_000
        for unit in suffixOrder where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            unitMilliseconds = unit.milliseconds
            break
        }

        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let integerText = parts.first, isDigits(integerText), let integer = Int64(integerText) else { return nil }
        guard case (let whole, false) = integer.multipliedReportingOverflow(by: unitMilliseconds) else { return nil }
        guard parts.count == 2 else { return .milliseconds(whole) }

        // Fraction: exact arithmetic on at most nine significant digits.
        guard isDigits(parts[1]) else { return nil }
        var fractionText = parts[1]
        while fractionText.last == "0" { fractionText = fractionText.dropLast() }
        guard fractionText.count <= maximumFractionDigits else { return nil }
        guard let fraction = Int64(fractionText.isEmpty ? "0" : fractionText) else { return nil }
        var scale: Int64 = 1
        for _ in 0..<fractionText.count { scale *= 10 }
        let scaled = fraction * unitMilliseconds // < 10^9 · 3.6·10^6, fits easily
        guard scaled % scale == 0 else { return nil }
        guard case (let total, false) = whole.addingReportingOverflow(scaled / scale) else { return nil }
        return .milliseconds(total)
    }

    /// The shortest exact text for `duration` that ``parse(_:)`` reads back to the same value: the largest unit
    /// that divides it (`1h`, `2m`, `5s`, `1500ms`; zero is `0s`).
    ///
    /// Durations `parse` can never produce are still written exactly rather than rounded: a negative duration is
    /// prefixed with `-`, and one that is not a whole number of milliseconds is written as decimal milliseconds
    /// (`0.5ms`). Beyond ±`Int64.max` milliseconds the standard description is used.
    public static func format(_ duration: Duration) -> String {
        let limit = Duration.milliseconds(Int64.max)
        guard duration <= limit, duration >= .zero - limit else { return "\(duration)" }
        if duration < .zero { return "-" + format(.zero - duration) }

        let (seconds, attoseconds) = duration.components
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        guard case (let secondsInMilliseconds, false) = seconds.multipliedReportingOverflow(by: 1_000),
              case (let milliseconds, false) = secondsInMilliseconds.addingReportingOverflow(attoseconds / attosecondsPerMillisecond)
        else { return "\(duration)" }

        let remainder = attoseconds % attosecondsPerMillisecond
        if remainder != 0 {
            var fraction = String(remainder)
            fraction = String(repeating: "0", count: 15 - fraction.count) + fraction
            while fraction.last == "0" { fraction.removeLast() }
            return "\(milliseconds).\(fraction)ms"
        }
        if milliseconds == 0 { return "0s" }
        for unit in units where milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}

extension Substring {
    /// `self` without leading and trailing whitespace or newlines (Unicode-aware, no Foundation needed).
    fileprivate func trimmingASCIIAndUnicodeWhitespace() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return text
    }
}
