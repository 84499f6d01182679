import Foundation

/// The centre's quiet hours: a daily window (which may cross midnight) in a time zone, on some weekdays,
/// during which normal-priority messages wait. A window belongs to the day it starts on: with 21:00–08:00 on
/// Thursday only, Thursday 23:00 and Friday 07:00 are quiet, Friday 22:00 is not.
public struct QuietHours: Sendable, Equatable, Codable {
    /// Minutes after midnight, 0…1439.
    public var start: Int
    public var end: Int
    /// ISO weekdays the window may start on, 1 = Monday … 7 = Sunday.
    public var days: Set<Int>
    public var timeZone: TimeZone

    public static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    public static let defaultTimeZone = "Asia/Riyadh"

    public init(start: Int, end: Int, days: Set<Int> = Set(1...7), timeZone: TimeZone) {
        self.start = start
        self.end = end
        self.days = days
        self.timeZone = timeZone
    }

    /// `"21:00"` → 1260; `nil` unless `HH:MM` with HH 00–23 and MM 00–59.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hours = Int(parts[0]), let minutes = Int(parts[1]),
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
              (0...23).contains(hours), (0...59).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }

    public static func text(_ minutes: Int) -> String {
        String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }

    /// When the quiet window containing `date` ends, or `nil` when `date` is not inside one.
    public func end(containing date: Date) -> Date? {
        guard start != end else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // The window that started today, and the one that started yesterday (when windows cross midnight).
        let today = calendar.startOfDay(for: date)
        for dayOffset in [0, -1] {
            guard let day = calendar.date(byAdding: .day, value: dayOffset, to: today) else { continue }
            let weekday = calendar.component(.weekday, from: day)  // 1 = Sunday
            let iso = weekday == 1 ? 7 : weekday - 1
            guard days.contains(iso) else { continue }
            guard let windowStart = Self.at(start, on: day, calendar: calendar) else { continue }
            let crosses = end <= start
            let endDay = crosses ? calendar.date(byAdding: .day, value: 1, to: day) ?? day : day
            guard let windowEnd = Self.at(end, on: endDay, calendar: calendar) else { continue }
            if date >= windowStart, date < windowEnd { return windowEnd }
        }
        return nil
    }

    /// The wall-clock time `minutes` after midnight on `day` (DST gaps move forward, as the calendar does).
    private static func at(_ minutes: Int, on day: Date, calendar: Calendar) -> Date? {
        calendar.date(bySettingHour: minutes / 60, minute: minutes % 60, second: 0, of: day)
    }
}
