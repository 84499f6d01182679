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

/// Masks patients' phone numbers, e-mail addresses and message texts in a payload shown to people (the
/// stored payload keeps them: processing needs them).
enum PayloadMasking {
    /// Keys (any case) whose values are addresses.
    static let addressKeys: Set<String> = ["from", "to", "recipient_id", "wa_id", "email", "phone", "caller", "called"]
    /// Keys whose values are message texts.
    static let textKeys: Set<String> = ["body", "text"]

    static func masked(_ value: JSONValue, key: String? = nil) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(Dictionary(uniqueKeysWithValues: object.map { ($0.key, masked($0.value, key: $0.key)) }))
        case .array(let items):
            return .array(items.map { masked($0, key: key) })
        case .string(let text):
            let name = key?.lowercased() ?? ""
            if textKeys.contains(name) { return .string("•••") }
            if text.contains("@"), EmailAddress.normalize(text) != nil { return .string(EmailAddress.masked(text)) }
            if addressKeys.contains(name) {
                let candidate = text.hasPrefix("+") || text.hasPrefix("whatsapp:") ? text.replacingOccurrences(of: "whatsapp:", with: "") : "+" + text
                if let phone = PhoneNumber.normalizeE164(candidate) { return .string(PhoneNumber.masked(phone)) }
                return .string("•••")
            }
            return value
        default:
            return value
        }
    }
}
