import Fluent
import Foundation
import MoeenCore

/// Messages to CRM contacts (`contact_id` in `POST /api/messages`): the contact supplies the recipient (and the
/// channel when none is given), and each message accepted for a contact adds a `crm_contact_activities` entry in
/// the same transaction as the message.
extension MessageIntake {
    /// The contact `contact_id` names, or `nil` (with the problem noted when it names none).
    func contact(_ input: MessageRequest, problems: inout [String: String]) async throws -> CRMContact? {
        guard let raw = input.contactID else { return nil }
        if input.patientID != nil {
            problems["contact_id"] = "give patient_id or contact_id, not both"
            return nil
        }
        let contact: CRMContact? = if let uuid = UUID(uuidString: raw) {
            try await CRMContact.find(uuid, on: db)
        } else if PublicID.matches(raw, .contact), !JSONValue.string(raw).containsNULCharacter {
            try await CRMContact.query(on: db).filter(\.$publicID == raw).first()
        } else {
            nil
        }
        if contact == nil { problems["contact_id"] = "no contact has this id" }
        return contact
    }

    /// SMS when the contact has a phone, else e-mail.
    static func preferredChannel(of contact: CRMContact) -> MessageChannel? {
        if address(of: contact, for: .sms) != nil { return .sms }
        if address(of: contact, for: .email) != nil { return .email }
        return nil
    }

    /// The contact's address on `channel`.
    static func address(of contact: CRMContact, for channel: MessageChannel) -> String? {
        switch channel {
        case .sms, .whatsapp: contact.phone.flatMap { $0.isEmpty ? nil : $0 }
        case .email: contact.email.flatMap { $0.isEmpty ? nil : $0 }
        case .slack: nil
        }
    }

    /// The `to` problem when no recipient was given: naming what the patient or contact lacks.
    static func missingAddress(_ channel: MessageChannel, patient: Patient?, contact: CRMContact?) -> String {
        let what = channel == .email ? "e-mail address" : "phone number"
        if patient != nil { return "required: the patient has no \(what)" }
        if contact != nil { return "required: the contact has no \(what)" }
        return channel == .email ? "required (an e-mail address)" : "required (a phone number)"
    }

    /// The contact's activity for `message`: type `email` for an e-mail, `note` otherwise.
    static func recordContactActivity(_ message: OutboundMessage, createdBy: UUID?, on tx: any Database) async throws {
        let store = RecordStore(collection: RecordCollections.activities, db: tx)
        let isEmail = message.channel == MessageChannel.email.rawValue
        let subject = isEmail
            ? (message.subject.flatMap { $0.isEmpty ? nil : $0 } ?? "E-mail \(message.publicID)")
            : "\(message.channel) message \(message.publicID)"
        var body: [String: JSONValue] = [
            "activity_type": .string(isEmail ? "email" : "note"),
            "subject": .string(subject.capped(characters: 500)),
        ]
        if let description = message.text ?? message.template?["name"]?.stringValue, !description.isEmpty {
            body["description"] = .string(description.capped(characters: 10_000))
        }
        let now = message.createdAt ?? Date()
        _ = try await store.create(try await store.values(from: body, creating: true, now: now), parentID: message.contactID,
                                   by: RecordStore.Actor(userID: createdBy, ipAddress: nil), now: now)
    }
}
