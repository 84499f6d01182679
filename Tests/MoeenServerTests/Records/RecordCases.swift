import Foundation
import MoeenCore
@testable import MoeenServer
import Testing

/// For each of the thirteen collections: a valid body (and what the answer must then hold where it differs
/// from what was sent: normalised phones and e-mails, money with two decimals, UTC times), an update, and
/// values each of which alone must be refused with a 422 naming the field.
///
/// `"$contact"`, `"$program"` and `"$user"` stand for ids the fixture makes (a new training program each time).
struct RecordCase: Sendable, CustomTestStringConvertible {
    let key: String
    let create: [String: JSONValue]
    var expect: [String: JSONValue] = [:]
    let update: [String: JSONValue]
    var updateExpect: [String: JSONValue] = [:]
    let bad: [(field: String, value: JSONValue)]

    var collection: RecordCollection { RecordCollections.byKey[key]! }
    var testDescription: String { key }
}

enum RecordCases {
    static let long = JSONValue.string(String(repeating: "x", count: 201))

    static let all: [RecordCase] = [
        RecordCase(
            key: "contacts",
            create: ["first_name": "Fatima", "last_name": "الحربي", "email": " Fatima@Example.ORG ", "phone": "050 123 4567",
                     "company": "مركز الهمم", "status": "prospect", "tags": ["vip"], "social_media": ["x": "@f"],
                     "last_contact_at": "2026-11-01T09:00:00+03:00"],
            expect: ["email": "fatima@example.org", "phone": "+966501234567", "last_contact_at": "2026-11-01T06:00:00Z",
                     "metadata": [:], "position": nil],
            update: ["status": "customer", "company": nil], updateExpect: ["first_name": "Fatima"],
            bad: [("status", "vip"), ("email", "not-an-address"), ("phone", "12345"), ("phone", "+9660501234567"),
                  ("first_name", ""), ("first_name", long), ("tags", "vip"), ("tags", [1]), ("social_media", [1]),
                  ("last_contact_at", "yesterday"), ("status", 3)]),
        RecordCase(
            key: "activities",
            create: ["activity_type": "call", "subject": "مكالمة تعريفية", "activity_date": "2026-11-02T10:00:00Z"],
            update: ["activity_type": "meeting", "description": "met the family"],
            bad: [("activity_type", "sms"), ("activity_date", "2026-13-01T00:00:00Z"),
                  ("subject", .string(String(repeating: "s", count: 501)))]),
        RecordCase(
            key: "leads",
            create: ["name": "Lead", "phone": "+966 50 123 4567", "value": "1250.5", "probability": 60, "status": "qualified"],
            expect: ["phone": "+966501234567", "value": "1250.50", "tags": []],
            update: ["probability": 80, "value": nil, "status": "closed-won"],
            bad: [("status", "won"), ("probability", 101), ("probability", -1), ("probability", "high"), ("value", "12.345"),
                  ("value", "abc"), ("phone", "abc"), ("name", nil)]),
        RecordCase(
            key: "deals",
            create: ["title": "Annual contract", "contact_id": "$contact", "value": 99, "stage": "proposal", "probability": 30,
                     "expected_close_date": "2026-12-31"],
            expect: ["value": "99.00"],
            update: ["stage": "closed-won", "probability": 100, "contact_id": nil],
            bad: [("stage", "won"), ("probability", 150), ("expected_close_date", "31/12/2026"),
                  ("contact_id", "cnt_20260101_00000000"), ("contact_id", .string(UUID().uuidString)), ("value", "abc")]),
        RecordCase(
            key: "patients",
            create: ["full_name": "سارة أحمد", "phone": "00966501234567", "email": "sara@example.org", "date_of_birth": "2015-02-28",
                     "preferred_channel": "whatsapp"],
            expect: ["phone": "+966501234567"],
            update: ["preferred_channel": "sms", "email": nil],
            bad: [("preferred_channel", "fax"), ("phone", "0501234"), ("phone", "05012345678"), ("date_of_birth", "2015-02-30"),
                  ("email", "x@"), ("full_name", "   ")]),
        RecordCase(
            key: "goals",
            create: ["goal_title": "المشي عشرة أمتار", "target_date": "2027-01-15", "progress_percentage": 25, "status": "active"],
            update: ["progress_percentage": 100, "status": "completed"],
            bad: [("progress_percentage", 101), ("progress_percentage", -5), ("progress_percentage", .number("12.5")), ("status", "done"),
                  ("target_date", "soon")]),
        RecordCase(
            key: "assessments",
            create: ["assessment_type": "motor", "assessment_date": "2026-11-20", "score": "87.5", "assessor_id": "$user"],
            expect: ["score": "87.50"],
            update: ["score": "90", "notes": "steady"], updateExpect: ["score": "90.00"],
            bad: [("assessment_date", nil), ("score", "high"), ("assessor_id", "not-a-user"),
                  ("assessor_id", .string(UUID().uuidString)), ("assessment_type", "")]),
        RecordCase(
            key: "reports",
            create: ["report_title": "Monthly report", "report_date": "2026-11-30", "summary": "ok", "details": ["sessions": 4]],
            update: ["summary": "better"],
            bad: [("details", "text"), ("report_date", "2026-11-31"), ("report_title", long)]),
        RecordCase(
            key: "training",
            create: ["program_id": "$program", "start_date": "2026-11-01", "completion_percentage": 10, "status": "in_progress"],
            update: ["completion_percentage": 50, "status": "paused"],
            bad: [("status", "started"), ("completion_percentage", 101), ("program_id", "trp_20260101_00000000"),
                  ("program_id", nil)]),
        RecordCase(
            key: "family",
            create: ["name": "Mother", "relationship": "mother", "phone": "501234567", "is_primary_contact": true],
            expect: ["phone": "+966501234567"],
            update: ["is_primary_contact": false, "phone": "+44 20 7946 0958"], updateExpect: ["phone": "+442079460958"],
            bad: [("phone", "+1234"), ("is_primary_contact", "yes"), ("relationship", "")]),
        RecordCase(
            key: "support-sessions",
            create: ["session_title": "Group session", "session_date": "2026-12-01", "session_time": "09:30",
                     "duration_minutes": 45, "facilitator_id": "$user"],
            update: ["duration_minutes": 60, "session_time": nil],
            bad: [("duration_minutes", 0), ("duration_minutes", 1441), ("session_time", "25:00"), ("session_date", "tomorrow")]),
        RecordCase(
            key: "training-programs",
            create: ["program_name": "Balance", "duration_weeks": 6, "difficulty_level": "intermediate", "content": ["weeks": 6],
                     "is_active": true],
            update: ["is_active": false, "difficulty_level": "advanced"],
            bad: [("difficulty_level", "expert"), ("duration_weeks", 0), ("is_active", "no"), ("content", [])]),
        RecordCase(
            key: "resources",
            create: ["resource_title": "Family guide", "resource_type": "guide", "url": "https://example.org/guide",
                     "category": "family", "tags": ["ar"], "is_public": true],
            update: ["is_public": false, "url": nil],
            bad: [("resource_type", "podcast"), ("resource_type", nil), ("url", "ftp://example.org/x"), ("url", "javascript:alert(1)"),
                  ("tags", [1])]),
    ]

    static let byKey = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
}
