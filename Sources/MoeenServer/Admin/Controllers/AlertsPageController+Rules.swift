import Fluent
import Foundation
import MoeenCore
import Vapor

/// The rule form of the Alerts tab (admins): what was entered, how it becomes an `AlertRuleInput` (checked by
/// `AlertRuleValidation`, as the API checks it), and the writes with their audit rows (as `AlertRulesController`).
struct RuleDraft {
    var editing: String?
    var name = ""
    var kind = AlertKind.consecutiveFailures.rawValue
    /// `all`, `type:<integration type>` or `integration:<public id>`.
    var scope = "all"
    var threshold = ""
    var window = ""
    var cooldown = DurationText.format(.seconds(AlertRule.defaultCooldownSeconds))
    /// Public ids of the chosen Slack and e-mail integrations.
    var channels: Set<String> = []
    /// Recipients as typed, by e-mail integration.
    var recipients: [String: String] = [:]
    var isEnabled = true
    /// Problems by input (`name`, `kind`, `scope`, `threshold`, `window`, `cooldown`, `channels`,
    /// `channel:<id>`, `recipients:<id>`), already in the page's language.
    var errors: [String: String] = [:]

    init() {}

    /// The form filled with a stored rule.
    init(_ rule: AlertRule, on db: any Database) async throws {
        editing = rule.publicID
        name = rule.name
        kind = rule.kind
        if let id = rule.integrationConfigID, let row = try await IntegrationConfig.find(id, on: db) {
            scope = "integration:\(row.publicID)"
        } else if let type = rule.integrationType {
            scope = "type:\(type)"
        }
        threshold = rule.threshold.map(AlertJSON.number) ?? ""
        window = rule.windowSeconds.map { DurationText.format(.seconds($0)) } ?? ""
        cooldown = DurationText.format(.seconds(rule.cooldownSeconds))
        for channel in rule.channelList {
            channels.insert(channel.integrationID)
            if !channel.recipients.isEmpty { recipients[channel.integrationID] = channel.recipients.joined(separator: ", ") }
        }
        isEnabled = rule.isEnabled
    }

    /// What a submitted form entered; `channelIDs` are the integrations the form offered, in order.
    init(form: [String: String], editing: String?, channelIDs: [String]) {
        self.editing = editing
        name = form["name"] ?? ""
        kind = form["kind"] ?? ""
        scope = form["scope"] ?? "all"
        threshold = (form["threshold"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        window = (form["window"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        cooldown = (form["cooldown"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        for id in channelIDs {
            if form["channel_\(id)"] != nil { channels.insert(id) }
            if let typed = form["recipients_\(id)"], !typed.isEmpty { recipients[id] = typed }
        }
        isEnabled = form["is_enabled"] == "true"
    }

    /// The API's input for this form, the problems found before validation (by input) and the channels in the
    /// order they were given (so `channels[i]` problems can be put back next to their input).
    func input(channelIDs: [String]) -> (AlertRuleInput, [String: String], [String]) {
        var early: [String: String] = [:]
        var integrationID: String?
        var integrationType: String?
        if scope.hasPrefix("integration:") {
            integrationID = String(scope.dropFirst("integration:".count))
        } else if scope.hasPrefix("type:") {
            integrationType = String(scope.dropFirst("type:".count))
        } else if scope != "all" {
            early["scope"] = "must be all integrations, a type or one integration"
        }
        var thresholdValue: Double?
        if !threshold.isEmpty {
            thresholdValue = Double(threshold.replacingOccurrences(of: ",", with: "."))
            if thresholdValue == nil || thresholdValue?.isFinite == false { early["threshold"] = "must be a number" }
        }
        let ordered = channelIDs.filter(channels.contains)
        let channelInputs = ordered.map { id -> AlertRuleInput.Channel in
            let typed = recipients[id] ?? ""
            let list = typed.split(whereSeparator: { $0 == "," || $0 == ";" || $0.isWhitespace }).map(String.init)
            return AlertRuleInput.Channel(integrationID: id, recipients: list.isEmpty ? nil : list)
        }
        let input = AlertRuleInput(
            name: name, kind: kind.isEmpty ? nil : kind, integrationID: integrationID, integrationType: integrationType,
            threshold: thresholdValue, window: window.isEmpty ? nil : window, channels: channelInputs,
            cooldown: cooldown.isEmpty ? nil : cooldown, isEnabled: isEnabled
        )
        return (input, early, ordered)
    }

    /// Puts the API's problems (`name`, `integration_id`, `channels[1].recipients[0]`…) next to the form's inputs,
    /// in `language`: English keeps the precise text, Arabic says per input what to fix.
    mutating func place(_ problems: [String: String], channels ordered: [String], language: Language) {
        for (field, problem) in problems.sorted(by: { $0.key < $1.key }) {
            let (input, key): (String, String)
            switch field {
            case "name": (input, key) = ("name", "error_rule_name")
            case "kind": (input, key) = ("kind", "error_rule_kind")
            case "scope", "integration_id", "integration_type": (input, key) = ("scope", "error_rule_scope")
            case "threshold": (input, key) = ("threshold", "error_rule_threshold")
            case "window": (input, key) = ("window", "error_rule_window")
            case "cooldown": (input, key) = ("cooldown", "error_rule_cooldown")
            default:
                let index = field.hasPrefix("channels[") ? Int(field.dropFirst("channels[".count).prefix { $0.isNumber }) : nil
                if let index, ordered.indices.contains(index) {
                    (input, key) = field.contains("recipients")
                        ? ("recipients:\(ordered[index])", "error_rule_recipients") : ("channel:\(ordered[index])", "error_rule_channel")
                } else {
                    (input, key) = ("channels", "error_rule_channel")
                }
            }
            guard errors[input] == nil else { continue }
            errors[input] = language == .en ? Self.sentence(problem) : Strings.text(key, language)
        }
    }

    /// The validator's fragment ("must be …", "required …") as a sentence.
    static func sentence(_ problem: String) -> String {
        guard let first = problem.first else { return problem }
        return first.uppercased() + problem.dropFirst() + (problem.hasSuffix(".") ? "" : ".")
    }
}

extension AlertsPageContext {
    /// The Slack and e-mail integrations a rule may notify, in the form's order.
    var channelIntegrations: [IntegrationConfig] {
        integrations.values.filter { $0.integrationType == IntegrationType.slack.rawValue || $0.integrationType == IntegrationType.email.rawValue }
            .sorted { ($0.integrationType, $0.name, $0.publicID) < ($1.integrationType, $1.name, $1.publicID) }
    }

    func form(_ draft: RuleDraft) -> AlertsTabPage.RuleForm {
        let kinds = AlertKind.allCases.map { UsersPage.Option(value: $0.rawValue, label: kindLabel($0.rawValue), selected: $0.rawValue == draft.kind) }
        let types = IntegrationType.allCases.map {
            UsersPage.Option(value: "type:\($0.rawValue)", label: typeLabel($0.rawValue), selected: draft.scope == "type:\($0.rawValue)")
        }
        let ones = integrations.values.sorted { ($0.integrationType, $0.name) < ($1.integrationType, $1.name) }.map {
            UsersPage.Option(value: "integration:\($0.publicID)", label: integrationLabel($0), selected: draft.scope == "integration:\($0.publicID)")
        }
        let scopes = [
            AlertsTabPage.OptionGroup(label: Strings.text("scope_all", language),
                                      options: [UsersPage.Option(value: "all", label: Strings.text("scope_all", language), selected: draft.scope == "all")]),
            AlertsTabPage.OptionGroup(label: Strings.text("scope_by_type", language), options: types),
            AlertsTabPage.OptionGroup(label: Strings.text("scope_integration", language), options: ones),
        ].filter { !$0.options.isEmpty }
        let channels = channelIntegrations.map { row in
            AlertsTabPage.ChannelOption(
                publicID: row.publicID, inputID: "rule-channel-\(row.publicID)", inputName: "channel_\(row.publicID)",
                label: integrationLabel(row), checked: draft.channels.contains(row.publicID),
                isEmail: row.integrationType == IntegrationType.email.rawValue,
                recipientsID: "rule-recipients-\(row.publicID)", recipientsName: "recipients_\(row.publicID)",
                recipients: draft.recipients[row.publicID] ?? "",
                error: draft.errors["channel:\(row.publicID)"] ?? draft.errors["recipients:\(row.publicID)"]
            )
        }
        let labels: [(input: String, label: String, target: String)] = [
            ("name", "rule_name", "rule-name"), ("kind", "rule_kind", "rule-kind"), ("scope", "rule_scope", "rule-scope"),
            ("threshold", "rule_threshold", "rule-threshold"), ("window", "rule_window", "rule-window"),
            ("cooldown", "rule_cooldown", "rule-cooldown"), ("channels", "rule_channels", "rule-channels"),
        ]
        var problems = labels.compactMap { item in
            draft.errors[item.input].map { FormProblem(target: item.target, label: Strings.text(item.label, language), message: $0) }
        }
        for channel in channels { if let error = channel.error {
            problems.append(FormProblem(target: draft.errors["recipients:\(channel.publicID)"] != nil ? channel.recipientsID : channel.inputID,
                                        label: channel.label, message: error))
        } }
        let isEdit = draft.editing != nil
        return AlertsTabPage.RuleForm(
            headingID: "rule-form-heading",
            heading: Strings.text(isEdit ? "edit_rule_heading" : "new_rule_heading", language),
            action: draft.editing.map(AlertsPageController.Paths.rule) ?? AlertsPageController.Paths.rules,
            isEdit: isEdit, submitLabel: Strings.text(isEdit ? "save_rule" : "add_rule", language),
            cancelHref: isEdit ? AlertsPageController.Paths.tab : nil,
            name: draft.name, kindOptions: kinds, scopeOptions: scopes, threshold: draft.threshold, window: draft.window,
            cooldown: draft.cooldown, channels: channels, isEnabled: draft.isEnabled,
            errors: draft.errors.filter { !$0.key.contains(":") }, problems: problems
        )
    }
}
