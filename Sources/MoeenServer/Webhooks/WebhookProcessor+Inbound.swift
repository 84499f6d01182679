import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// Replies that arrive through webhooks: kept, matched to a patient or contact, and STOP/START honoured.
extension WebhookProcessor {
    static let stopWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                                         "إيقاف", "ايقاف", "الغاء", "إلغاء", "توقف", "أوقف", "اوقف"]
    static let startWords: Set<String> = ["START", "UNSTOP", "YES", "SUBSCRIBE", "اشتراك", "إشتراك", "ابدأ", "ابدا"]

    /// The reply as a keyword: trimmed, upper-cased, punctuation and invisible marks removed.
    static func keyword(_ text: String?) -> String {
        guard let text, text.count <= 40 else { return "" }
        let kept = text.unicodeScalars.filter { CharacterSet.letters.contains($0) || CharacterSet.decimalDigits.contains($0) }
        return String(String.UnicodeScalarView(kept)).uppercased()
    }

    func applyInbound(
        _ event: WebhookEvent, channel: MessageChannel, from rawFrom: String?, to rawTo: String?, text: String?,
        providerID: String?, now: Date, on tx: any Database
    ) async throws -> String {
        let cleaned = rawFrom.map { $0.replacingOccurrences(of: "whatsapp:", with: "") } ?? ""
        guard let from = PhoneNumber.normalizeE164(cleaned.hasPrefix("+") ? cleaned : "+" + cleaned) else { return "recorded" }
        let inbound = InboundMessage()
        inbound.id = UUID()
        inbound.publicID = PublicID.make(.inboundMessage, at: now, randomHexDigits: 16)
        inbound.channel = channel.rawValue
        inbound.integrationID = event.integrationID
        inbound.webhookEventID = event.id
        inbound.from = from
        inbound.to = rawTo.map { $0.replacingOccurrences(of: "whatsapp:", with: "").capped(characters: 64) }
        inbound.text = text?.capped(characters: 4096)
        inbound.providerMessageID = providerID?.capped(characters: 255)
        inbound.receivedAt = event.receivedAt
        (inbound.patientID, inbound.contactID) = try await Self.match(phone: from, on: tx)
        let word = Self.keyword(text)
        var outcome = "inbound"
        if Self.stopWords.contains(word) {
            _ = try await OptOuts.add(channel: channel, address: from, reason: "replied \(text ?? word)", source: .webhook, by: nil, on: tx, now: now)
            inbound.optOutAction = "opt_out"
            outcome = "opt_out"
        } else if Self.startWords.contains(word) {
            try await RecipientOptOut.query(on: tx).filter(\.$channel == channel.rawValue).filter(\.$address == from).delete()
            inbound.optOutAction = "opt_in"
            outcome = "opt_in"
        }
        try await inbound.create(on: tx)
        return outcome
    }

    /// The patient and CRM contact whose phone is this number, in whatever form it was typed.
    static func match(phone: String, on db: any Database) async throws -> (UUID?, UUID?) {
        guard let sql = db as? any SQLDatabase else { return (nil, nil) }
        // Candidates whose digits end like the number (spaces, dashes, dots and brackets ignored), then the
        // one rule that decides: the same E.164 form.
        let pattern = "%" + String(phone.suffix(9))
        func candidates(_ table: String) async throws -> [(UUID, String)] {
            try await sql.raw("""
                SELECT id, phone FROM \(ident: table)
                WHERE REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', '') LIKE \(bind: pattern)
                LIMIT 50
                """).all().map { (try $0.decode(column: "id", as: UUID.self), try $0.decode(column: "phone", as: String.self)) }
        }
        let patient = try await candidates(Patient.schema).first { PhoneNumber.normalizeE164($0.1) == phone }?.0
        let contact = try await candidates(CRMContact.schema).first { PhoneNumber.normalizeE164($0.1) == phone }?.0
        return (patient, contact)
    }
}
