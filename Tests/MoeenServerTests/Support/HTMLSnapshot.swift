import Foundation
import Testing

/// Compares a page's HTML with `__Snapshots__/<name>.html` next to the tests, after replacing what changes
/// from run to run (ids, tokens, times). A missing snapshot fails the test — a page nobody has looked at must
/// never pass unseen — unless recording is asked for explicitly with `MOEEN_RECORD_SNAPSHOTS=1`, which
/// writes every snapshot afresh (read the diff, then commit it). A difference fails with the first
/// differing line.
enum HTMLSnapshot {
    static func normalise(_ html: String) -> String {
        let rules: [(String, String)] = [
            (#"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"#, "<uuid>"),
            (#"\b(int|itl)_\d{8}_[0-9a-f]{8}\b"#, "$1_<id>"),
            (#"name="csrf_token" value="[^"]*""#, #"name="csrf_token" value="<csrf>""#),
            (#"<time datetime="[^"]*">[^<]*</time>"#, "<time>…</time>"),
            (#"[0-9a-z]{8}@example\.org"#, "<user>@example.org"),
            // The same pages run on SQLite and on PostgreSQL.
            (#"<dd dir="ltr">(SQLite|PostgreSQL)</dd>"#, #"<dd dir="ltr"><database></dd>"#),
        ]
        var text = html
        for (pattern, template) in rules {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        return text
    }

    /// Whether this run records snapshots (`MOEEN_RECORD_SNAPSHOTS=1`) instead of comparing with them.
    static var isRecording: Bool { ProcessInfo.processInfo.environment["MOEEN_RECORD_SNAPSHOTS"] == "1" }

    static func assertMatches(
        _ html: String, named name: String, recording: Bool = isRecording,
        filePath: String = #filePath, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
            .appendingPathComponent("../__Snapshots__", isDirectory: true)
        let file = directory.appendingPathComponent(name + ".html")
        let actual = normalise(html)
        if recording {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try actual.write(to: file, atomically: true, encoding: .utf8)
            } catch {
                Issue.record("could not write snapshot \(file.path): \(error)", sourceLocation: sourceLocation)
            }
            return
        }
        guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("snapshot \(name) is missing; record it with MOEEN_RECORD_SNAPSHOTS=1, read it and commit it", sourceLocation: sourceLocation)
            return
        }
        guard expected != actual else { return }
        let left = expected.components(separatedBy: "\n")
        let right = actual.components(separatedBy: "\n")
        let index = zip(left, right).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(left.count, right.count)
        let was = index < left.count ? left[index] : "<end>"
        let now = index < right.count ? right[index] : "<end>"
        Issue.record("snapshot \(name) differs at line \(index + 1):\n- \(was)\n+ \(now)\n(MOEEN_RECORD_SNAPSHOTS=1 rewrites it)", sourceLocation: sourceLocation)
    }
}
