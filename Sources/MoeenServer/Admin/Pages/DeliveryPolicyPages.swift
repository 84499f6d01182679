import Foundation
import MoeenCore

/// One problem of a submitted form, as the summary above the form lists it: the field's label, what is wrong,
/// and the id of the input the summary's link leads to.
struct FormProblem: Encodable, Equatable {
    let target: String
    let label: String
    let message: String
}

/// The General tab's quiet-hours section: the centre's quiet hours for every role, and for admins the form.
struct QuietHoursSection: Encodable {
    struct Day: Encodable {
        /// `sun` … `sat`, the value the form posts.
        let value: String
        let label: String
        let checked: Bool
    }

    /// What the section shows as facts (the saved preferences, not a failed submission).
    struct Summary: Encodable {
        let enabled: StatusBadge
        let start: String
        let end: String
        let days: String
        let timeZone: String
    }

    /// The admin's form, with what was entered and its problems after a failed submission.
    struct Form: Encodable {
        let action: String
        let enabled: Bool
        let start: String
        let end: String
        let days: [Day]
        let timeZone: String
        /// Problems by input: `start`, `end`, `days`, `timezone`.
        let errors: [String: String]
        let problems: [FormProblem]
    }

    let summary: Summary
    /// Admins only.
    let form: Form?

    /// The form's days in the order the centre's week reads (Sunday first), with the API's names.
    static let dayOrder = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// The days of `input` as the form's checkboxes: every day when the preferences name none.
    static func checkedDays(_ names: [String]?) -> Set<String> {
        guard let names else { return Set(dayOrder) }
        return Set(names.map { $0.lowercased() })
    }

    init(_ preferences: CentreDeliveryPreferences, form: Form?, _ language: Language) {
        let input = preferences.quietHours
        let days = Self.checkedDays(input.days)
        let dayText = days.isSuperset(of: Self.dayOrder)
            ? Strings.text("quiet_hours_every_day", language)
            : Self.dayOrder.filter(days.contains).map { Strings.text("day_\($0)", language) }
                .joined(separator: language == .ar ? "، " : ", ")
        summary = Summary(
            enabled: StatusBadge(value: input.enabled ? "on" : "off",
                                 label: Strings.text(input.enabled ? "quiet_hours_on" : "quiet_hours_off", language),
                                 icon: input.enabled ? "✓" : "–"),
            start: input.start, end: input.end, days: dayText,
            timeZone: input.timezone ?? QuietHours.defaultTimeZone
        )
        self.form = form
    }
}

/// `/settings/messages/opt-outs`: the recipients who asked not to be messaged, newest first, a page at a time;
/// staff and up add and remove them.
struct OptOutsPage: Encodable {
    struct Row: Encodable {
        let publicID: String
        let channel: String
        let channelLabel: String
        /// Masked for viewers, as the API masks it.
        let address: String
        let reason: String?
        let source: String
        let sourceLabel: String
        let created: TimeDisplay?
        /// Staff and up: the remove form's address.
        let removeAction: String?
    }

    /// The add form, with what was entered and its problems after a failed submission.
    struct NewOptOut: Encodable {
        let action: String
        let channelOptions: [UsersPage.Option]
        let address: String
        let reason: String
        /// Problems by input: `channel`, `address`, `reason`.
        let errors: [String: String]
        let problems: [FormProblem]
        let reasonLimit: Int
    }

    let frame: PageFrame
    let messagesHref: String
    let rows: [Row]
    /// Where a remove form sends the browser back to (this page, at this cursor).
    let returnTo: String
    let nextHref: String?
    let firstHref: String?
    let paged: Bool
    /// Staff and up.
    let newOptOut: NewOptOut?
    let readOnly: Bool
    let masked: Bool
}

/// An integration's delivery state on its page (messaging types only): a word and an icon, why, and until when.
struct DeliveryStateView: Encodable, Equatable {
    /// `active`, `paused` or `half_open`.
    let state: String
    let badge: StatusBadge
    let body: String
    let reason: String?
    let until: TimeDisplay?

    init(_ snapshot: DeliveryPolicyStore.Snapshot?, _ language: Language) {
        let state = snapshot?.state ?? "active"
        self.state = state
        let known = ["active", "paused", "half_open"].contains(state)
        let icon = switch state {
        case "active": "●"
        case "paused": "‖"
        case "half_open": "◐"
        default: "?"
        }
        badge = StatusBadge(value: state, label: known ? Strings.text("delivery_state_\(state)", language) : state, icon: icon)
        body = known ? Strings.text("delivery_\(state)_body", language) : ""
        reason = snapshot?.reason
        until = snapshot?.until.map { TimeDisplay($0, language) }
    }
}
