import Foundation

/// Parsing of the `Retry-After` header and similar reset hints. These values come from providers: whatever
/// they say (`1e300`, a date in the year 9999), the answer is a delay of at most `longest`, never a trap.
public enum RetryAfter {
    /// The longest delay a hint can give (about 31 years): beyond it a number no longer fits a `Duration`
    /// of milliseconds safely, and no provider means it.
    public static let longest: Double = 1_000_000_000

    /// Seconds (finite, not negative) as a `Duration`, at most `longest`.
    static func delay(seconds: Double) -> Duration {
        .milliseconds(Int64((min(max(0, seconds), longest) * 1000).rounded()))
    }

    /// `Retry-After` as delay-seconds (`"120"`) or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`),
    /// relative to `now`. Past dates give zero; unparseable values give `nil`.
    public static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 {
            return delay(seconds: seconds)
        }
        guard let date = httpDate(trimmed) else { return nil }
        return delay(seconds: date.timeIntervalSince(now))
    }

    /// A reset instant given as epoch seconds (SendGrid's `X-RateLimit-Reset`), relative to `now`.
    public static func fromEpochReset(_ value: String, now: Date = Date()) -> Duration? {
        guard let epoch = Double(value.trimmingCharacters(in: .whitespaces)), epoch.isFinite else { return nil }
        return delay(seconds: epoch - now.timeIntervalSince1970)
    }

    /// Parses the three date forms RFC 9110 accepts (IMF-fixdate, RFC 850, asctime).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
