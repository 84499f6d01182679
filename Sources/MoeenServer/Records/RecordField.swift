import Foundation
import MoeenCore
import SQLKit

/// What a record column holds, and so how its JSON is checked, stored and answered.
enum RecordFieldKind: Sendable {
    /// Free text, trimmed; empty text counts as absent.
    case text(maxLength: Int)
    /// An e-mail address, stored lower-case (`EmailAddress.normalize`).
    case email
    /// A phone number, stored E.164 (`PhoneNumber.normalizeE164`, Saudi local forms accepted).
    case phone
    /// One of the original's allowed values.
    case choice([String])
    /// A whole number in the range.
    case integer(ClosedRange<Int>)
    /// A whole number 0–100.
    case percentage
    /// A decimal string with at most 2 decimals (`Money`), e.g. `"1250.50"`.
    case decimal
    /// An ISO date, `2026-12-01`.
    case date
    /// A time of day, `09:30` or `09:30:00`.
    case time
    /// An RFC 3339 time, answered in UTC.
    case timestamp
    case bool
    /// An array of strings (each at most 100 characters, at most 50 of them).
    case tags
    /// A JSON object.
    case object
    /// An `http(s)` URL.
    case url
    /// The id (UUID or public id) of a row of another collection, or of a user (UUID or e-mail).
    case reference(RecordTarget)

    var expected: String {
        switch self {
        case .text: "text"
        case .email: "an e-mail address"
        case .phone: "a phone number like +966501234567 or 0501234567"
        case .choice(let values): "one of \(values.joined(separator: ", "))"
        case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .percentage: "a whole number from 0 to 100"
        case .decimal: "a decimal amount with at most 2 decimals, like \"1250.00\""
        case .date: "an ISO date like 2026-12-01"
        case .time: "a time like 09:30"
        case .timestamp: "an RFC 3339 time like 2026-12-01T09:00:00Z"
        case .bool: "true or false"
        case .tags: "an array of texts"
        case .object: "a JSON object"
        case .url: "an http or https URL"
        case .reference(let target): "the id of \(target.noun)"
        }
    }
}

/// What a reference field points at.
enum RecordTarget: Sendable, Equatable {
    /// A collection, by its key (`RecordCollection.key`).
    case collection(String)
    case user

    var noun: String {
        switch self {
        case .collection(let key): RecordCollections.byKey[key]?.noun ?? key
        case .user: "a user"
        }
    }
}

/// A value as it is bound into SQL.
enum StoredValue: Sendable, Equatable {
    case null
    case text(String)
    case integer(Int)
    case money(Money)
    case date(Date)
    case bool(Bool)
    case json(JSONValue)
    case uuid(UUID)

    var sql: any SQLExpression {
        switch self {
        case .null: SQLLiteral.null
        case .text(let value): SQLBind(value)
        case .integer(let value): SQLBind(value)
        case .money(let value): SQLBind(value)
        case .date(let value): SQLBind(value)
        case .bool(let value): SQLBind(value)
        case .json(let value): SQLBind(value)
        case .uuid(let value): SQLBind(value)
        }
    }
}

/// A problem with one field's value, worded for `error.fields`.
struct FieldProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// One column of a collection as the API sees it.
struct RecordField: Sendable {
    let name: String
    let kind: RecordFieldKind
    /// Must be given (and not null) when a record is created.
    var required = false
    /// Stored when a record is created without the field (the column's default in the migration).
    var defaultValue: StoredValue? = nil
    /// Stored as the current time when a record is created without it (or it is set to `null`).
    var defaultsToNow = false
    /// `GET …?name=value` filters on it (equality).
    var filterable = false
    /// Part of what `?q=` searches.
    var searchable = false

    /// The value to store for `json` (already known not to be `null`), or the problem with it. References are
    /// resolved by `RecordStore`.
    func parse(_ json: JSONValue) throws(FieldProblem) -> StoredValue {
        // PostgreSQL refuses U+0000 in text and JSON: refused here for both databases, never a 500.
        if json.containsNULCharacter { throw FieldProblem("must not contain the NUL character (U+0000)") }
        switch kind {
        case .text(let maxLength):
            let text = try string(json).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty {
                if required { throw FieldProblem("required") }
                return .null
            }
            guard text.count <= maxLength else { throw FieldProblem("must be at most \(maxLength) characters") }
            return .text(text)
        case .email:
            let text = try string(json)
            if text.trimmingCharacters(in: .whitespaces).isEmpty, !required { return .null }
            guard let address = EmailAddress.normalize(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .text(address)
        case .phone:
            let text = try string(json)
            if text.trimmingCharacters(in: .whitespaces).isEmpty, !required { return .null }
            guard let phone = PhoneNumber.normalizeE164(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .text(phone)
        case .choice(let values):
            guard let text = json.stringValue, values.contains(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .text(text)
        case .integer(let range):
            guard let value = Self.integer(json), range.contains(value) else { throw FieldProblem("must be \(kind.expected)") }
            return .integer(value)
        case .percentage:
            guard let value = Self.integer(json), (0...100).contains(value) else { throw FieldProblem("must be \(kind.expected)") }
            return .integer(value)
        case .decimal:
            let text: String? = switch json {
            case .string(let value): value
            case .number(let value): value
            default: nil
            }
            guard let text, let money = Money(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .money(money)
        case .date:
            guard let text = json.stringValue, let date = RecordDates.parseDay(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .date(date)
        case .time:
            guard let text = json.stringValue, RecordDates.isTimeOfDay(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .text(text)
        case .timestamp:
            guard let text = json.stringValue, let date = RFC3339.parse(text) else { throw FieldProblem("must be \(kind.expected)") }
            return .date(date)
        case .bool:
            guard let value = json.boolValue else { throw FieldProblem("must be \(kind.expected)") }
            return .bool(value)
        case .tags:
            guard let items = json.arrayValue, items.count <= 50 else { throw FieldProblem("must be an array of at most 50 texts") }
            var tags: [JSONValue] = []
            for item in items {
                guard let text = item.stringValue?.trimmingCharacters(in: .whitespaces), !text.isEmpty, text.count <= 100 else {
                    throw FieldProblem("must be an array of texts of 1 to 100 characters")
                }
                tags.append(.string(text))
            }
            return .json(.array(tags))
        case .object:
            guard json.objectValue != nil else { throw FieldProblem("must be \(kind.expected)") }
            guard json.jsonText().utf8.count <= 64 * 1024 else { throw FieldProblem("must be at most 64 KB of JSON") }
            return .json(json)
        case .url:
            let text = try string(json).trimmingCharacters(in: .whitespaces)
            guard text.count <= 2000, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), url.host?.isEmpty == false
            else { throw FieldProblem("must be \(kind.expected)") }
            return .text(text)
        case .reference:
            let text = try string(json)
            guard !text.isEmpty, text.count <= 64 else { throw FieldProblem("must be \(kind.expected)") }
            return .text(text)
        }
    }

    private func string(_ json: JSONValue) throws(FieldProblem) -> String {
        guard let text = json.stringValue else { throw FieldProblem("must be \(kind.expected)") }
        return text
    }

    /// A JSON whole number (no fraction, no exponent), within `Int`.
    static func integer(_ json: JSONValue) -> Int? {
        guard case .number(let text) = json, text.count <= 18 else { return nil }
        return Int(text)
    }

    /// The field's value in `row`, as the API answers it.
    func answer(from row: any SQLRow) throws -> JSONValue {
        switch kind {
        case .text, .email, .phone, .choice, .time, .url:
            return try row.decode(column: name, as: String?.self).map(JSONValue.string) ?? .null
        case .integer, .percentage:
            return try row.decode(column: name, as: Int?.self).map { JSONValue.number($0) } ?? .null
        case .decimal:
            return try row.decode(column: name, as: Money?.self).map { .string($0.description) } ?? .null
        case .date:
            return try row.decode(column: name, as: Date?.self).map { .string(RecordDates.day($0)) } ?? .null
        case .timestamp:
            return try row.decode(column: name, as: Date?.self).map { .string(RecordDates.timestamp($0)) } ?? .null
        case .bool:
            return try row.decode(column: name, as: Bool?.self).map(JSONValue.bool) ?? .null
        case .tags, .object:
            return try row.decode(column: name, as: JSONValue?.self) ?? .null
        case .reference:
            return try row.decode(column: name, as: UUID?.self).map { .string($0.uuidString) } ?? .null
        }
    }
}

/// ISO dates and times as the records take and answer them (UTC).
enum RecordDates {
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let components = DateComponents(year: year, month: month, day: day)
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == day else { return nil }
        return date
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// `HH:MM` or `HH:MM:SS`, 24-hour.
    static func isTimeOfDay(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return false }
        if parts.count == 3 { guard let second = Int(parts[2]), (0...59).contains(second) else { return false } }
        return true
    }
}
