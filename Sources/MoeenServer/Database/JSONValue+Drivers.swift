import Foundation
import MoeenCore
import NIOCore
import PostgresNIO
import SQLiteNIO

// JSON columns (config, metadata, tags, details…) are `JSONValue`: `jsonb` on PostgreSQL and JSON text on
// SQLite, written and read by the same JSON coder on both so a document round-trips identically.

extension JSONValue: SQLiteDataConvertible {
    public init?(sqliteData: SQLiteData) {
        switch sqliteData {
        case .text(let text):
            guard let value = JSONValue.parse(Array(text.utf8)) else { return nil }
            self = value
        case .blob(var buffer):
            guard let bytes = buffer.readBytes(length: buffer.readableBytes), let value = JSONValue.parse(bytes) else { return nil }
            self = value
        case .null:
            self = .null
        default:
            return nil
        }
    }

    public var sqliteData: SQLiteData? { .text(jsonText()) }
}

extension JSONValue: PostgresEncodable, PostgresDecodable {
    public static var psqlType: PostgresDataType { .jsonb }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<Encoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer,
        context: PostgresEncodingContext<Encoder>
    ) throws {
        byteBuffer.writeInteger(UInt8(1))  // jsonb binary format version
        byteBuffer.writeString(jsonText())
    }

    public init<Decoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer,
        type: PostgresDataType,
        format: PostgresFormat,
        context: PostgresDecodingContext<Decoder>
    ) throws {
        switch (format, type) {
        case (.binary, .jsonb):
            guard buffer.readInteger(as: UInt8.self) == 1 else { throw PostgresDecodingError.Code.failure }
            fallthrough
        case (.binary, .json), (.text, .jsonb), (.text, .json):
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            guard let value = JSONValue.parse(bytes) else { throw PostgresDecodingError.Code.failure }
            self = value
        default:
            throw PostgresDecodingError.Code.typeMismatch
        }
    }
}
