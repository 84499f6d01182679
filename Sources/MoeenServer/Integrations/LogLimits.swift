import Foundation
import MoeenCore

/// Bounds on what a log row keeps, so one chatty provider answer cannot grow the database without limit.
/// What is cut says so: `"…[truncated: 18342 more bytes]"` inside strings, or a
/// `{"truncated": true, "original_bytes": N, "preview": "…"}` object for a document that stays too large.
extension JSONValue {
    /// At most `bytes` once encoded: long strings inside are shortened first; if the document is still
    /// too large, it is replaced by a marker object holding the start of its text.
    func capped(bytes limit: Int) -> JSONValue {
        let text = jsonText()
        let size = text.utf8.count
        guard size > limit else { return self }
        let shortened = shorteningStrings(to: max(64, limit / 8))
        if shortened.jsonText().utf8.count <= limit { return shortened }
        // The preview is escaped again when encoded: shrink it until the whole marker fits.
        var previewBytes = max(0, limit - 256)
        while true {
            let marker: JSONValue = [
                "truncated": true,
                "original_bytes": .number(size),
                "preview": .string(text.capped(bytes: previewBytes)),
            ]
            let overshoot = marker.jsonText().utf8.count - limit
            if overshoot <= 0 || previewBytes == 0 { return marker }
            previewBytes = max(0, previewBytes - max(overshoot, 64))
        }
    }

    private func shorteningStrings(to limit: Int) -> JSONValue {
        switch self {
        case .string(let text): .string(text.capped(bytes: limit))
        case .array(let items): .array(items.map { $0.shorteningStrings(to: limit) })
        case .object(let object): .object(object.mapValues { $0.shorteningStrings(to: limit) })
        default: self
        }
    }
}

extension String {
    /// At most `limit` characters, with a visible marker saying how much was cut.
    func capped(characters limit: Int) -> String {
        guard count > limit else { return self }
        let kept = prefix(limit)
        return kept + "…[truncated: \(count - kept.count) more characters]"
    }

    /// At most about `limit` UTF-8 bytes (cut on a character boundary), with a visible marker.
    func capped(bytes limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var kept = Substring()
        var used = 0
        for character in self {
            let size = character.utf8.count
            if used + size > limit { break }
            kept.append(character)
            used += size
        }
        return kept + "…[truncated: \(utf8.count - used) more bytes]"
    }
}
