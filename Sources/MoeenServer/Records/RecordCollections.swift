import Foundation

/// The thirteen collections of API.md "CRM and care records", with the original's (migration 054) columns,
/// allowed values and ranges.
enum RecordCollections {
    static let name = 200
    static let long = 10_000

    static let contacts = RecordCollection(
        key: "contacts", path: ["crm", "contacts"], noun: "Contact", table: "crm_contacts", prefix: .contact,
        fields: [
            RecordField(name: "first_name", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "last_name", kind: .text(maxLength: name), searchable: true),
            RecordField(name: "email", kind: .email, searchable: true),
            RecordField(name: "phone", kind: .phone, searchable: true),
            RecordField(name: "company", kind: .text(maxLength: name), searchable: true),
            RecordField(name: "position", kind: .text(maxLength: name)),
            RecordField(name: "status", kind: .choice(CRMValues.contactStatuses), defaultValue: .text("lead"), filterable: true),
            RecordField(name: "source", kind: .text(maxLength: name), filterable: true),
            RecordField(name: "notes", kind: .text(maxLength: long)),
            RecordField(name: "tags", kind: .tags, defaultValue: .json([])),
            RecordField(name: "address", kind: .text(maxLength: 1000)),
            RecordField(name: "social_media", kind: .object, defaultValue: .json([:])),
            RecordField(name: "last_contact_at", kind: .timestamp),
            RecordField(name: "next_follow_up_at", kind: .timestamp),
            RecordField(name: "metadata", kind: .object, defaultValue: .json([:])),
        ])

    static let activities = RecordCollection(
        key: "activities", path: ["activities"], noun: "Activity", table: "crm_contact_activities", prefix: .contactActivity,
        parent: .init(key: "contacts", column: "contact_id"),
        fields: [
            RecordField(name: "activity_type", kind: .choice(CRMValues.activityTypes), required: true, filterable: true),
            RecordField(name: "subject", kind: .text(maxLength: 500), searchable: true),
            RecordField(name: "description", kind: .text(maxLength: long), searchable: true),
            // Required by the table; when left out, the time the activity is recorded.
            RecordField(name: "activity_date", kind: .timestamp, defaultsToNow: true),
        ])

    static let leads = RecordCollection(
        key: "leads", path: ["crm", "leads"], noun: "Lead", table: "crm_leads", prefix: .lead,
        fields: [
            RecordField(name: "name", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "email", kind: .email, searchable: true),
            RecordField(name: "phone", kind: .phone, searchable: true),
            RecordField(name: "company", kind: .text(maxLength: name), searchable: true),
            RecordField(name: "status", kind: .choice(CRMValues.leadStatuses), defaultValue: .text("new"), filterable: true),
            RecordField(name: "source", kind: .text(maxLength: name), filterable: true),
            RecordField(name: "value", kind: .decimal),
            RecordField(name: "probability", kind: .percentage, defaultValue: .integer(0)),
            RecordField(name: "notes", kind: .text(maxLength: long)),
            RecordField(name: "tags", kind: .tags, defaultValue: .json([])),
        ])

    static let deals = RecordCollection(
        key: "deals", path: ["crm", "deals"], noun: "Deal", table: "crm_deals", prefix: .deal,
        fields: [
            RecordField(name: "title", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "contact_id", kind: .reference(.collection("contacts")), filterable: true),
            RecordField(name: "contact_name", kind: .text(maxLength: name), searchable: true),
            RecordField(name: "value", kind: .decimal),
            RecordField(name: "stage", kind: .choice(CRMValues.dealStages), defaultValue: .text("prospecting"), filterable: true),
            RecordField(name: "probability", kind: .percentage, defaultValue: .integer(0)),
            RecordField(name: "expected_close_date", kind: .date),
            RecordField(name: "notes", kind: .text(maxLength: long)),
            RecordField(name: "tags", kind: .tags, defaultValue: .json([])),
        ])

    static let patients = RecordCollection(
        key: "patients", path: ["patients"], noun: "Patient", table: "patients", prefix: .patient,
        fields: [
            RecordField(name: "full_name", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "phone", kind: .phone, searchable: true),
            RecordField(name: "email", kind: .email, searchable: true),
            RecordField(name: "date_of_birth", kind: .date),
            RecordField(name: "preferred_channel", kind: .choice(["whatsapp", "sms", "email"]), filterable: true),
        ],
        hasCreatedBy: false)

    static let goals = RecordCollection(
        key: "goals", path: ["goals"], noun: "Goal", table: "progress_goals", prefix: .progressGoal,
        parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "goal_title", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "description", kind: .text(maxLength: long)),
            RecordField(name: "target_date", kind: .date),
            RecordField(name: "progress_percentage", kind: .percentage, defaultValue: .integer(0)),
            RecordField(name: "status", kind: .choice(CareValues.goalStatuses), defaultValue: .text("active"), filterable: true),
        ])

    static let assessments = RecordCollection(
        key: "assessments", path: ["assessments"], noun: "Assessment", table: "progress_assessments", prefix: .progressAssessment,
        parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "assessment_type", kind: .text(maxLength: name), required: true, filterable: true, searchable: true),
            RecordField(name: "assessment_date", kind: .date, required: true),
            RecordField(name: "score", kind: .decimal),
            RecordField(name: "notes", kind: .text(maxLength: long)),
            RecordField(name: "assessor_id", kind: .reference(.user), filterable: true),
        ],
        hasCreatedBy: false)

    static let reports = RecordCollection(
        key: "reports", path: ["reports"], noun: "Report", table: "progress_reports", prefix: .progressReport,
        parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "report_title", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "report_date", kind: .date, required: true),
            RecordField(name: "summary", kind: .text(maxLength: long)),
            RecordField(name: "details", kind: .object, defaultValue: .json([:])),
        ])

    static let training = RecordCollection(
        key: "training", path: ["training"], noun: "Training progress", table: "training_progress", prefix: .trainingProgress,
        parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "program_id", kind: .reference(.collection("training-programs")), required: true, filterable: true),
            RecordField(name: "start_date", kind: .date),
            RecordField(name: "completion_percentage", kind: .percentage, defaultValue: .integer(0)),
            RecordField(name: "status", kind: .choice(CareValues.trainingStatuses), defaultValue: .text("not_started"), filterable: true),
            RecordField(name: "notes", kind: .text(maxLength: long), searchable: true),
        ],
        hasCreatedBy: false,
        duplicateMessage: "This patient already has progress recorded for this training program; update that record instead.")

    static let family = RecordCollection(
        key: "family", path: ["family"], noun: "Family member", table: "family_members", prefix: .familyMember,
        parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "name", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "relationship", kind: .text(maxLength: 100), required: true, filterable: true),
            RecordField(name: "phone", kind: .phone, searchable: true),
            RecordField(name: "email", kind: .email, searchable: true),
            RecordField(name: "is_primary_contact", kind: .bool, defaultValue: .bool(false), filterable: true),
            RecordField(name: "notes", kind: .text(maxLength: long)),
        ],
        hasCreatedBy: false)

    static let supportSessions = RecordCollection(
        key: "support-sessions", path: ["support-sessions"], noun: "Support session", table: "support_sessions",
        prefix: .supportSession, parent: .init(key: "patients", column: "patient_id"),
        fields: [
            RecordField(name: "session_title", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "session_date", kind: .date, required: true),
            RecordField(name: "session_time", kind: .time),
            RecordField(name: "duration_minutes", kind: .integer(1...1440)),
            RecordField(name: "session_type", kind: .text(maxLength: 100), filterable: true),
            RecordField(name: "facilitator_id", kind: .reference(.user), filterable: true),
            RecordField(name: "notes", kind: .text(maxLength: long)),
        ],
        hasCreatedBy: false)

    static let trainingPrograms = RecordCollection(
        key: "training-programs", path: ["training-programs"], noun: "Training program", table: "training_programs",
        prefix: .trainingProgram,
        fields: [
            RecordField(name: "program_name", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "description", kind: .text(maxLength: long)),
            RecordField(name: "duration_weeks", kind: .integer(1...520)),
            RecordField(name: "difficulty_level", kind: .choice(CareValues.difficultyLevels), defaultValue: .text("beginner"), filterable: true),
            RecordField(name: "program_type", kind: .text(maxLength: 100), filterable: true),
            RecordField(name: "content", kind: .object, defaultValue: .json([:])),
            RecordField(name: "is_active", kind: .bool, defaultValue: .bool(true), filterable: true),
        ])

    static let resources = RecordCollection(
        key: "resources", path: ["resources"], noun: "Resource", table: "resources", prefix: .resource,
        fields: [
            RecordField(name: "resource_title", kind: .text(maxLength: name), required: true, searchable: true),
            RecordField(name: "resource_type", kind: .choice(CareValues.resourceTypes), required: true, filterable: true),
            RecordField(name: "description", kind: .text(maxLength: long)),
            RecordField(name: "url", kind: .url),
            RecordField(name: "file_path", kind: .text(maxLength: 1000)),
            RecordField(name: "category", kind: .text(maxLength: 100), filterable: true, searchable: true),
            RecordField(name: "tags", kind: .tags, defaultValue: .json([])),
            RecordField(name: "is_public", kind: .bool, defaultValue: .bool(false), filterable: true),
        ])

    /// Every collection, parents before the collections nested under them.
    static let all: [RecordCollection] = [
        contacts, activities, leads, deals, patients, goals, assessments, reports, training, family, supportSessions,
        trainingPrograms, resources,
    ]

    static let byKey: [String: RecordCollection] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
}
