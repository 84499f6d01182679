import Foundation
import MoeenCore
import Vapor

/// The quiet-hours form on the General tab (admins): a plain form post to `/settings/delivery`, checked as
/// `PUT /api/settings/delivery` checks it, saved, and redirected back; a refused submission is the General
/// tab again (422) with each problem next to its field and in a summary above the form.
extension SettingsController {
    /// The form as posted. `days` repeats once per ticked day (`days=sun&days=mon`); none ticked is none sent.
    struct QuietHoursFormInput: Decodable {
        let enabled: String?
        let start: String?
        let end: String?
        let days: [String]?
        let timezone: String?
    }

    /// A refused submission: what was entered, and the problems by the API's field names (`quiet_hours.start`…).
    struct QuietHoursDraft {
        var input: CentreDeliveryPreferences.QuietHoursInput
        var problems: [String: String]
    }

    @Sendable
    func saveQuietHours(req: Request) async throws -> Response {
        let form = try req.content.decode(QuietHoursFormInput.self)
        let user = try req.currentUser
        func trimmed(_ value: String?) -> String { value?.trimmingCharacters(in: .whitespaces) ?? "" }
        let ticked = (form.days ?? []).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var input = CentreDeliveryPreferences.QuietHoursInput(
            enabled: form.enabled == "true", start: trimmed(form.start), end: trimmed(form.end),
            days: ticked, timezone: trimmed(form.timezone)
        )
        do {
            _ = try CentreDeliveryPreferences.window(input)
        } catch let error as APIError where error.status == .unprocessableEntity {
            return try await renderGeneral(req, quietHoursDraft: QuietHoursDraft(input: input, problems: error.fields ?? [:]),
                                           status: .unprocessableEntity)
        }
        // Every day ticked is "every day", stored as the API stores it (no list); otherwise the week's order.
        let days = Set(ticked)
        input.days = days.isSuperset(of: QuietHoursSection.dayOrder) ? nil : QuietHoursSection.dayOrder.filter(days.contains)
        try await CentreDeliveryPreferences(quietHours: input).save(on: req.db, by: user.id, now: Date())
        req.application.centrePreferences.invalidate()
        req.logger.notice("quiet hours changed", metadata: [
            "enabled": "\(input.enabled)", "start": .string(input.start), "end": .string(input.end),
            "days": .string(input.days?.joined(separator: ",") ?? "every day"), "timezone": .string(input.timezone ?? ""),
            "by": "\(user.id)",
        ])
        return AdminView.redirect(req, to: SiteURL.settings(.general).path, notice: "quiet_hours_saved")
    }

    /// The admin's form: the saved preferences, or a refused submission with its problems in the page's language.
    static func quietHoursForm(_ preferences: CentreDeliveryPreferences, draft: QuietHoursDraft?, _ language: Language) -> QuietHoursSection.Form {
        let input = draft?.input ?? preferences.quietHours
        let checked = QuietHoursSection.checkedDays(input.days)
        let errors = draft.map { quietHoursErrors($0, language) } ?? [:]
        let fields: [(key: String, label: String, target: String)] = [
            ("start", "quiet_hours_start", "qh-start"), ("end", "quiet_hours_end", "qh-end"),
            ("days", "quiet_hours_days", "qh-day-sun"), ("timezone", "quiet_hours_timezone", "qh-timezone"),
            ("other", "quiet_hours_heading", "qh-enabled"),
        ]
        return QuietHoursSection.Form(
            action: SiteURL.deliverySettings.path,
            enabled: input.enabled, start: input.start, end: input.end,
            days: QuietHoursSection.dayOrder.map { .init(value: $0, label: Strings.text("day_\($0)", language), checked: checked.contains($0)) },
            timeZone: input.timezone ?? QuietHours.defaultTimeZone,
            errors: errors,
            problems: fields.compactMap { field in
                errors[field.key].map { FormProblem(target: field.target, label: Strings.text(field.label, language), message: $0) }
            }
        )
    }

    /// `CentreDeliveryPreferences.window`'s problems by form input, in the page's language.
    static func quietHoursErrors(_ draft: QuietHoursDraft, _ language: Language) -> [String: String] {
        var errors: [String: String] = [:]
        for key in draft.problems.keys {
            switch key {
            case "quiet_hours.start":
                errors["start"] = Strings.text("error_time", language)
            case "quiet_hours.end":
                // Either not a time, or the same time as the start.
                errors["end"] = Strings.text(QuietHours.minutes(draft.input.end) == nil ? "error_time" : "error_end_same", language)
            case "quiet_hours.days":
                errors["days"] = Strings.text("error_days_none", language)
            case let day where day.hasPrefix("quiet_hours.days["):
                if errors["days"] == nil { errors["days"] = Strings.text("error_day_unknown", language) }
            case "quiet_hours.timezone":
                errors["timezone"] = Strings.text("error_timezone", language)
            default:
                // A check the API may add later: listed in the summary, in the service's own words.
                errors["other"] = draft.problems[key]
            }
        }
        return errors
    }
}
