import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Synchronization
import Vapor

/// The centre's delivery preferences (`GET/PUT /api/settings/delivery`, the General tab): quiet hours.
struct CentreDeliveryPreferences: Content, Equatable {
    struct QuietHoursInput: Content, Equatable {
        var enabled: Bool
        var start: String
        var end: String
        var days: [String]?
        var timezone: String?
    }

    var quietHours: QuietHoursInput

    enum CodingKeys: String, CodingKey {
        case quietHours = "quiet_hours"
    }

    static let `default` = CentreDeliveryPreferences(quietHours: QuietHoursInput(
        enabled: false, start: "21:00", end: "08:00", days: nil, timezone: QuietHours.defaultTimeZone))

    /// The quiet hours to apply, or `nil` when they are off.
    var activeQuietHours: QuietHours? {
        guard quietHours.enabled, let window = try? Self.window(quietHours) else { return nil }
        return window
    }

    /// Checks the input; 422 naming each field (`quiet_hours.start`…).
    static func window(_ input: QuietHoursInput) throws -> QuietHours {
        var problems: [String: String] = [:]
        let start = QuietHours.minutes(input.start)
        if start == nil { problems["quiet_hours.start"] = "must be a time of day like 21:00 (HH:MM, 24-hour)" }
        let end = QuietHours.minutes(input.end)
        if end == nil { problems["quiet_hours.end"] = "must be a time of day like 08:00 (HH:MM, 24-hour)" }
        if let start, let end, start == end { problems["quiet_hours.end"] = "must differ from the start" }
        var days = Set(1...7)
        if let names = input.days {
            days = []
            for (index, name) in names.enumerated() {
                if let position = QuietHours.dayNames.firstIndex(of: name.lowercased()) {
                    days.insert(position + 1)
                } else {
                    problems["quiet_hours.days[\(index)]"] = "must be one of \(QuietHours.dayNames.joined(separator: ", "))"
                }
            }
            if names.isEmpty { problems["quiet_hours.days"] = "must name at least one day, or be left out for every day" }
        }
        let zoneName = input.timezone ?? QuietHours.defaultTimeZone
        let zone = zoneName.count <= 64 ? TimeZone(identifier: zoneName) : nil
        if zone == nil { problems["quiet_hours.timezone"] = "must be a time zone name like Asia/Riyadh" }
        guard problems.isEmpty, let start, let end, let zone else { throw APIError.validation(problems) }
        return QuietHours(start: start, end: end, days: days, timeZone: zone)
    }

    /// The stored preferences (defaults when none were saved).
    static func load(on db: any Database) async throws -> CentreDeliveryPreferences {
        guard let sql = db as? any SQLDatabase,
              let row = try await sql.select().column("value").from("app_settings")
                .where("key", .equal, SQLBind("delivery")).first()
        else { return .default }
        let value = try row.decode(column: "value", as: JSONValue.self)
        return (try? JSONDecoder().decode(CentreDeliveryPreferences.self, from: Data(value.jsonText().utf8))) ?? .default
    }

    func save(on db: any Database, by user: UUID?, now: Date) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        let data = try JSONEncoder().encode(self)
        let value = JSONValue.parse(Array(data)) ?? .object([:])
        try await sql.insert(into: "app_settings")
            .columns("key", "value", "updated_by", "updated_at")
            .values(SQLBind("delivery"), SQLBind(value), SQLBind(user), SQLBind(now))
            .onConflict(with: ["key"]) { $0.set(excludedValueOf: "value").set(excludedValueOf: "updated_by").set(excludedValueOf: "updated_at") }
            .run()
    }
}

/// The preferences as a dispatcher reads them: from the database at most every few seconds, so a change
/// made in any process applies everywhere within that time.
final class CentrePreferencesCache: Sendable {
    private let state = Mutex<(value: CentreDeliveryPreferences, loadedAt: ContinuousClock.Instant?)>((.default, nil))
    private let maximumAge: Duration

    init(maximumAge: Duration = .seconds(5)) { self.maximumAge = maximumAge }

    func current(on db: any Database) async -> CentreDeliveryPreferences {
        let (cached, loadedAt) = state.withLock { ($0.value, $0.loadedAt) }
        if let loadedAt, ContinuousClock.now - loadedAt < maximumAge { return cached }
        guard let fresh = try? await CentreDeliveryPreferences.load(on: db) else { return cached }
        state.withLock { $0 = (fresh, ContinuousClock.now) }
        return fresh
    }

    /// Forgets the cached value (this process just saved new preferences).
    func invalidate() { state.withLock { $0.loadedAt = nil } }
}

extension Application {
    private struct PreferencesKey: StorageKey {
        typealias Value = CentrePreferencesCache
    }

    /// The centre's delivery preferences as this process knows them (the intake and the dispatcher share it).
    var centrePreferences: CentrePreferencesCache {
        if let cache = storage[PreferencesKey.self] { return cache }
        let cache = CentrePreferencesCache()
        storage[PreferencesKey.self] = cache
        return cache
    }
}

/// `GET /api/settings/delivery` (any role) and `PUT` (admin).
struct DeliverySettingsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let settings = routes.grouped("settings", "delivery")
        settings.grouped(RequireRole(role: .viewer)).get(use: show)
        settings.grouped(RequireRole(role: .admin)).put(use: update)
    }

    @Sendable
    func show(req: Request) async throws -> CentreDeliveryPreferences {
        try await CentreDeliveryPreferences.load(on: req.db)
    }

    @Sendable
    func update(req: Request) async throws -> CentreDeliveryPreferences {
        var input = try req.content.decode(CentreDeliveryPreferences.self)
        _ = try CentreDeliveryPreferences.window(input.quietHours)
        input.quietHours.timezone = input.quietHours.timezone ?? QuietHours.defaultTimeZone
        // Stored once each, in the week's order (Sunday first, as the centre's week starts).
        input.quietHours.days = input.quietHours.days.map { names in
            let given = Set(names.map { $0.lowercased() })
            return ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].filter(given.contains)
        }
        try await input.save(on: req.db, by: try req.currentUser.id, now: Date())
        req.application.centrePreferences.invalidate()
        return input
    }
}
