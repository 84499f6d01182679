import Foundation

/// How each provider's reported statuses map onto ours, and which moves are allowed (forward only).
extension WebhookProcessor {
    /// Statuses a provider reports, as ours; `nil` for those that are only recorded (events, not changes).
    static func whatsAppTarget(_ status: String) -> MessageStatus? {
        switch status {
        case "sent": .sent
        case "delivered": .delivered
        case "read": .read
        case "failed": .failed
        default: nil
        }
    }

    static func twilioTarget(_ status: String) -> MessageStatus? {
        switch status {
        case "sent": .sent
        case "delivered": .delivered
        case "read": .read
        case "undelivered", "failed": .failed
        default: nil  // queued, accepted, sending, scheduled, canceled, receiving, received
        }
    }

    static func sendGridTarget(_ event: String) -> MessageStatus? {
        switch event {
        case "delivered": .delivered
        case "open": .read
        case "bounce", "dropped": .failed
        default: nil  // processed, deferred, click, spamreport, unsubscribe…
        }
    }

    /// SendGrid's `sg_message_id` is the `X-Message-Id` we stored followed by `.filter…` parts: every prefix
    /// ending at a dot is a candidate.
    static func sendGridCandidates(_ id: String?) -> [String] {
        guard let id, !id.isEmpty else { return [] }
        var candidates = [id]
        var index = id.startIndex
        while let dot = id[index...].firstIndex(of: ".") {
            candidates.append(String(id[..<dot]))
            index = id.index(after: dot)
            if candidates.count > 12 { break }
        }
        return candidates
    }

    /// Which states each reported status may move a message from: forward only (a late `delivered` after
    /// `read` changes nothing; nothing moves a `delivered` message to `failed`).
    static func allowed(from current: MessageStatus, to target: MessageStatus) -> Bool {
        switch target {
        case .sent: [.queued, .sending].contains(current)
        case .delivered: [.queued, .sending, .sent].contains(current)
        case .read: [.queued, .sending, .sent, .delivered].contains(current)
        case .failed: [.queued, .sending, .sent].contains(current)
        default: false
        }
    }
}
