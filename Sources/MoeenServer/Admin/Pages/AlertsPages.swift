import Foundation
import MoeenCore

/// `/settings/alerts`: open alerts (with Acknowledge for managers and up), the history of resolved alerts (paged),
/// the rules, and for admins the form that adds a rule or edits one.
struct AlertsTabPage: Encodable {
    struct AlertRow: Encodable {
        let publicID: String
        /// `open` or `resolved` (`data-state`).
        let state: String
        let stateBadge: StatusBadge
        let ruleName: String
        let kindLabel: String
        let subject: String
        /// The integration's page, when the alert is about one.
        let subjectHref: String?
        let summary: String
        let value: String?
        let firedAt: TimeDisplay
        let resolvedAt: TimeDisplay?
        let notifications: String
        let acknowledged: Bool
        let acknowledgedAt: TimeDisplay?
        let acknowledgedBy: String?
        /// Managers and up, open and not yet acknowledged alerts only.
        let acknowledgeAction: String?
    }

    struct RuleRow: Encodable {
        let publicID: String
        let name: String
        let kind: String
        let kindLabel: String
        let scope: String
        let threshold: String
        let window: String
        let cooldown: String
        let channels: [String]
        let enabled: StatusBadge
        let isDefault: Bool
        /// Admins only.
        let editHref: String?
        let deleteAction: String?
    }

    /// A Slack or e-mail integration the form offers as a channel.
    struct ChannelOption: Encodable {
        let publicID: String
        let inputID: String
        let inputName: String
        let label: String
        let checked: Bool
        /// E-mail channels take recipients.
        let isEmail: Bool
        let recipientsID: String
        let recipientsName: String
        let recipients: String
        let error: String?
    }

    /// An `<optgroup>` of the scope select.
    struct OptionGroup: Encodable {
        let label: String
        let options: [UsersPage.Option]
    }

    struct RuleForm: Encodable {
        let headingID: String
        let heading: String
        let action: String
        let isEdit: Bool
        let submitLabel: String
        let cancelHref: String?
        let name: String
        let kindOptions: [UsersPage.Option]
        let scopeOptions: [OptionGroup]
        let threshold: String
        let window: String
        let cooldown: String
        let channels: [ChannelOption]
        let isEnabled: Bool
        /// Problems by input (`name`, `kind`, `scope`, `threshold`, `window`, `cooldown`, `channels`).
        let errors: [String: String]
        let problems: [FormProblem]
    }

    let frame: PageFrame
    let open: [AlertRow]
    let history: [AlertRow]
    let historyNextHref: String?
    let historyFirstHref: String?
    let historyPaged: Bool
    let rules: [RuleRow]
    /// Admins only.
    let form: RuleForm?
    let canAcknowledge: Bool
    let rulesReadOnly: Bool
}

/// How an alert's measured value and a rule's threshold read, per kind.
enum AlertValueText {
    static func format(_ value: Double?, kind: AlertKind?) -> String? {
        guard let value else { return nil }
        switch kind {
        case .dispatchFailureRate?:
            return "\(Int((value * 100).rounded())) %"
        default:
            return AlertJSON.number((value * 100).rounded() / 100)
        }
    }
}
