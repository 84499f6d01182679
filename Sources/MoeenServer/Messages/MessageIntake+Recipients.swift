import Fluent
import Foundation
import MoeenCore

/// Who a message goes to beyond `to`: the fallback channels' recipients and a patient's own details.
extension MessageIntake {
    /// The fallback channels and their recipients (from `fallback_to`, else the patient or CRM contact), checked.
    func validateFallback(
        _ input: MessageRequest, channel: MessageChannel?, text: String?, patient: Patient?, contact: CRMContact? = nil,
        problems: inout [String: String]
    ) async throws -> (channels: [MessageChannel], recipients: [String: String])? {
        if let after = input.fallbackAfter, !(1...604_800).contains(after) {
            problems["fallback_after"] = "must be a number of seconds from 1 to 604800 (7 days)"
        }
        guard let names = input.fallbackChannels, !names.isEmpty else {
            if input.fallbackAfter != nil { problems["fallback_after"] = "needs fallback_channels" }
            if let extra = input.fallbackTo?.keys.sorted().first { problems["fallback_to.\(extra)"] = "needs fallback_channels" }
            return nil
        }
        var channels: [MessageChannel] = []
        var recipients: [String: String] = [:]
        for (index, name) in names.enumerated() {
            let field = "fallback_channels[\(index)]"
            guard let fallback = MessageChannel(rawValue: name) else {
                problems[field] = "must be one of \(MessageChannel.allCases.map(\.rawValue).joined(separator: ", "))"
                continue
            }
            if fallback == channel || channels.contains(fallback) {
                problems[field] = "repeats a channel already tried"
                continue
            }
            if fallback == .email ? (text == nil && input.html == nil) : text == nil {
                problems[field] = "needs the message's text to fall back to \(fallback.rawValue)"
            } else if let text, let limit = fallback.textLimit, text.count > limit {
                problems[field] = "the text is longer than \(fallback.rawValue) allows (\(limit) characters)"
            }
            if fallback == .slack {
                recipients[fallback.rawValue] = "webhook"
            } else if let given = input.fallbackTo?[fallback.rawValue] ?? patient.flatMap({ Self.address(of: $0, for: fallback) })
                        ?? contact.flatMap({ Self.address(of: $0, for: fallback) }) {
                if let normalized = OptOuts.normalize(given, channel: fallback) {
                    recipients[fallback.rawValue] = normalized
                } else {
                    problems["fallback_to.\(fallback.rawValue)"] = fallback == .email ? "must be an e-mail address" : "must be a phone number like +966551234567"
                }
            } else {
                problems["fallback_to.\(fallback.rawValue)"] = "required: the recipient on \(fallback.rawValue) (or a patient_id or contact_id with one)"
            }
            do {
                _ = try await resolveIntegration(channel: fallback, requested: nil)
            } catch let problem as IntegrationProblem {
                problems[field] = problem.message
            }
            channels.append(fallback)
        }
        for key in (input.fallbackTo ?? [:]).keys where !names.contains(key) {
            problems["fallback_to.\(key)"] = "is not one of fallback_channels"
        }
        return (channels, recipients)
    }

    /// The patient's preferred channel, else SMS when they have a phone, else e-mail.
    static func preferredChannel(of patient: Patient) -> MessageChannel? {
        if let preferred = patient.preferredChannel.flatMap(MessageChannel.init(rawValue:)),
           address(of: patient, for: preferred) != nil {
            return preferred
        }
        if patient.phone?.isEmpty == false { return .sms }
        if patient.email?.isEmpty == false { return .email }
        return nil
    }

    /// The patient's address on `channel`.
    static func address(of patient: Patient, for channel: MessageChannel) -> String? {
        switch channel {
        case .sms, .whatsapp: patient.phone.flatMap { $0.isEmpty ? nil : $0 }
        case .email: patient.email.flatMap { $0.isEmpty ? nil : $0 }
        case .slack: nil
        }
    }
}
