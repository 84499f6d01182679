import Foundation
import NIOCore
import PostgresNIO
import SQLiteNIO

/// An amount of money with exactly two decimal places, never a floating-point number.
///
/// JSON: a decimal string (`"1234.50"`). PostgreSQL: `NUMERIC(14,2)`. SQLite: the same decimal text.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The amount in hundredths (e.g. 123450 for 1234.50).
    public let minorUnits: Int64

    public init(minorUnits: Int64) {
        self.minorUnits = minorUnits
    }

    /// Parses `"1234"`, `"1234.5"`, `"1234.50"`, `"-3.10"`; at most 12 integer digits and 2 decimals.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var digits = Substring(trimmed)
        let negative = digits.hasPrefix("-")
        if negative { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
              let whole = parts.first, (1...12).contains(whole.count), whole.allSatisfy(\.isASCIIDigit)
        else { return nil }
        var fraction = parts.count == 2 ? parts[1] : "00"
        guard (1...2).contains(fraction.count), fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        if fraction.count == 1 { fraction += "0" }
        guard let wholeValue = Int64(whole), let fractionValue = Int64(fraction) else { return nil }
        let magnitude = wholeValue * 100 + fractionValue
        self.minorUnits = negative ? -magnitude : magnitude
    }

    public var description: String {
        let magnitude = minorUnits.magnitude
        let fraction = magnitude % 100
        return "\(minorUnits < 0 ? "-" : "")\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.minorUnits < rhs.minorUnits }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Money: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        if let string = try? container.decode(String.self) {
            text = string
        } else {
            text = try container.decode(Decimal.self).description
        }
        guard let value = Money(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a decimal amount with at most 2 decimals, like \"1250.00\"")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Money: SQLiteDataConvertible {
    public init?(sqliteData: SQLiteData) {
        switch sqliteData {
        case .text(let text): self.init(text)
        case .integer(let value): self.init(minorUnits: Int64(value) * 100)
        case .float(let value): self.init(String(format: "%.2f", value))
        default: return nil
        }
    }

    public var sqliteData: SQLiteData? { .text(description) }
}

extension Money: PostgresEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .numeric }
    public static var psqlFormat: PostgresFormat { .text }

    public func encode<Encoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer,
        context: PostgresEncodingContext<Encoder>
    ) throws {
        byteBuffer.writeString(description)
    }

    public init<Decoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer,
        type: PostgresDataType,
        format: PostgresFormat,
        context: PostgresDecodingContext<Decoder>
    ) throws {
        switch (format, type) {
        case (.text, .numeric), (.text, .text), (.text, .varchar):
            guard let value = Money(buffer.readString(length: buffer.readableBytes) ?? "") else {
                throw PostgresDecodingError.Code.failure
            }
            self = value
        case (.binary, .numeric):
            let decimal = try Decimal(from: &buffer, type: type, format: format, context: context)
            guard let value = Money(decimal.description) else { throw PostgresDecodingError.Code.failure }
            self = value
        default:
            throw PostgresDecodingError.Code.typeMismatch
        }
    }
}
