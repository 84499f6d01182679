import Foundation
import MoeenCore

/// One event out of a provider's webhook request, before it is stored.
struct ParsedWebhookEvent: Sendable {
    /// Unique per integration: what the provider would send again for the same event (the duplicate key).
    var eventID: String
    /// `status.delivered`, `message`, `event.bounce`, `sync`, `url_verification`…
    var eventType: String
    var payload: JSONValue
}

/// Why a request with a valid signature still cannot be taken (400).
struct MalformedWebhook: Error {
    let reason: String
}

/// Each provider's body turned into events with their duplicate keys (ARCHITECTURE.md "Webhook"; issue list
/// of event ids: WhatsApp message id + status + timestamp, Twilio `MessageSid` + `MessageStatus`, SendGrid
/// `sg_event_id`, Slack `event_id`, Google channel id + message number, Seha/Tatman `id`).
enum WebhookParsing {
    static let maximumEvents = 1000

    static func whatsApp(_ body: [UInt8]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard let root = JSONValue.parse(body), root["object"] != nil || root["entry"] != nil else {
            throw MalformedWebhook(reason: "expected a WhatsApp Business Account notification (JSON with entry[])")
        }
        var events: [ParsedWebhookEvent] = []
        for entry in root["entry"]?.arrayValue ?? [] {
            for change in entry["changes"]?.arrayValue ?? [] {
                let value = change["value"] ?? .null
                let metadata = value["metadata"] ?? .null
                for status in value["statuses"]?.arrayValue ?? [] {
                    guard let id = status["id"]?.stringValue, let state = status["status"]?.stringValue else {
                        throw MalformedWebhook(reason: "a status without id or status")
                    }
                    let timestamp = status["timestamp"]?.stringValue ?? status["timestamp"]?.jsonText() ?? ""
                    events.append(ParsedWebhookEvent(eventID: "status:\(id):\(state):\(timestamp)", eventType: "status.\(state)",
                                                     payload: .object(["status": status, "metadata": metadata])))
                }
                let contacts = value["contacts"] ?? .null
                for message in value["messages"]?.arrayValue ?? [] {
                    guard let id = message["id"]?.stringValue else { throw MalformedWebhook(reason: "a message without id") }
                    events.append(ParsedWebhookEvent(eventID: "message:\(id)", eventType: "message",
                                                     payload: .object(["message": message, "metadata": metadata, "contacts": contacts])))
                }
            }
        }
        return try capped(events)
    }

    /// Twilio posts forms: a status callback (`MessageStatus`) or an inbound message (`SmsStatus=received`).
    static func twilio(form: [(String, String)]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        var fields: [String: String] = [:]
        for (name, value) in form { fields[name] = value }
        guard let sid = fields["MessageSid"] ?? fields["SmsSid"], !sid.isEmpty else {
            throw MalformedWebhook(reason: "MessageSid is required")
        }
        let status = fields["MessageStatus"] ?? fields["SmsStatus"] ?? ""
        let payload = JSONValue.object(fields.mapValues(JSONValue.string))
        if status == "received" || (fields["MessageStatus"] == nil && fields["Body"] != nil) {
            return [ParsedWebhookEvent(eventID: "\(sid):received", eventType: "message", payload: payload)]
        }
        guard !status.isEmpty else { throw MalformedWebhook(reason: "MessageStatus is required") }
        return [ParsedWebhookEvent(eventID: "\(sid):\(status)", eventType: "status.\(status)", payload: payload)]
    }

    static func sendGrid(_ body: [UInt8]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard let items = JSONValue.parse(body)?.arrayValue else {
            throw MalformedWebhook(reason: "expected a JSON array of events")
        }
        var events: [ParsedWebhookEvent] = []
        for item in items {
            guard let id = item["sg_event_id"]?.stringValue, let event = item["event"]?.stringValue else {
                throw MalformedWebhook(reason: "an event without sg_event_id or event")
            }
            events.append(ParsedWebhookEvent(eventID: id, eventType: "event.\(event)", payload: item))
        }
        return try capped(events)
    }

    static func slack(_ body: [UInt8]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard let root = JSONValue.parse(body), let type = root["type"]?.stringValue else {
            throw MalformedWebhook(reason: "expected a Slack event (JSON with type)")
        }
        guard let id = root["event_id"]?.stringValue else {
            throw MalformedWebhook(reason: "event_id is required")
        }
        return [ParsedWebhookEvent(eventID: id, eventType: type + (root["event"]?["type"]?.stringValue.map { ".\($0)" } ?? ""), payload: root)]
    }

    static func google(channelID: String?, messageNumber: String?, resourceState: String?, resourceID: String?) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard let channelID, !channelID.isEmpty, let messageNumber, !messageNumber.isEmpty else {
            throw MalformedWebhook(reason: "X-Goog-Channel-ID and X-Goog-Message-Number are required")
        }
        guard let resourceState, ["sync", "exists", "not_exists"].contains(resourceState) else {
            throw MalformedWebhook(reason: "X-Goog-Resource-State must be sync, exists or not_exists")
        }
        return [ParsedWebhookEvent(eventID: "\(channelID):\(messageNumber)", eventType: resourceState, payload: .object([
            "channel_id": .string(channelID), "message_number": .string(messageNumber),
            "resource_state": .string(resourceState), "resource_id": resourceID.map(JSONValue.string) ?? .null,
        ]))]
    }

    /// Seha and Tatman: our published contract, a JSON object with a unique `id` and a `type`.
    static func moeen(_ body: [UInt8]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard let root = JSONValue.parse(body), let id = root["id"]?.stringValue, !id.isEmpty, id.count <= 255 else {
            throw MalformedWebhook(reason: "expected a JSON object with a string id")
        }
        return [ParsedWebhookEvent(eventID: id, eventType: root["type"]?.stringValue ?? "event", payload: root)]
    }

    private static func capped(_ events: [ParsedWebhookEvent]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        guard events.count <= maximumEvents else { throw MalformedWebhook(reason: "more than \(maximumEvents) events in one request") }
        return events.map { event in
            var event = event
            event.eventID = event.eventID.capped(characters: 255)
            return event
        }
    }
}

/// Masks patients' phone numbers, e-mail addresses, names and message texts in a payload shown to people
/// (the stored payload keeps them: processing needs them). For display, too much masking is harmless and too
/// little is not: besides the known keys, any string that reads as an e-mail address or a phone number is
/// masked, and so is every value whose key names a person or a text.
enum PayloadMasking {
    /// Key fragments (any case) whose values are addresses of people.
    static let addressFragments = ["from", "to", "recipient", "wa_id", "email", "phone", "mobile", "caller", "called"]
    /// Key fragments whose values are texts, names or places people wrote or own.
    static let textFragments = ["body", "text", "name", "caption", "title", "payload", "city", "state", "zip",
                                "country", "address", "national", "birth"]

    static func masked(_ value: JSONValue, key: String? = nil) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(Dictionary(uniqueKeysWithValues: object.map { ($0.key, masked($0.value, key: $0.key)) }))
        case .array(let items):
            return .array(items.map { masked($0, key: key) })
        case .string(let text):
            let name = key?.lowercased() ?? ""
            if text.contains("@"), EmailAddress.normalize(text) != nil { return .string(EmailAddress.masked(text)) }
            if let phone = phone(text) { return .string(PhoneNumber.masked(phone)) }
            if name == "id" || name.hasSuffix("_id") || name.hasSuffix("sid") || name == "type" || name == "status" || name == "event" {
                return value
            }
            if textFragments.contains(where: name.contains) || addressFragments.contains(where: name.contains) {
                return .string("•••")
            }
            return value
        case .number(let number) where key.map({ k in addressFragments.contains(where: k.lowercased().contains) }) ?? false:
            return phone(number).map { .string(PhoneNumber.masked($0)) } ?? value
        default:
            return value
        }
    }

    /// A string that is a phone number (8–15 digits, an optional `+` or `whatsapp:` first), in E.164.
    static func phone(_ text: String) -> String? {
        var candidate = text.trimmingCharacters(in: .whitespaces)
        if candidate.hasPrefix("whatsapp:") { candidate.removeFirst(9) }
        let digits = candidate.hasPrefix("+") ? candidate.dropFirst() : Substring(candidate)
        guard (8...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return PhoneNumber.normalizeE164("+" + digits)
    }
}
