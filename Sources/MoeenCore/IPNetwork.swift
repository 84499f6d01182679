import Foundation

/// An address range in CIDR notation (`127.0.0.0/8`, `::1/128`); a bare address is a one-address range.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `a.b.c.d/n`, `x:y::z/n` or a bare address (`/32` or `/128`). Host bits must be zero.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        let width = address.bytes.count * 8
        var length = width
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy(\.isASCIIDigit), let value = Int(parts[1]),
                  value <= width
            else { return nil }
            length = value
        }
        guard Self.masked(address.bytes, length) == address.bytes else { return nil }
        self.address = address
        self.prefixLength = length
    }

    /// A range from known-good parts (host bits already zero), for constants.
    init(trusted address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `candidate` lies in this range (an IPv4-mapped IPv6 address counts as its IPv4 address).
    public func contains(_ candidate: IPAddress) -> Bool {
        let bytes: [UInt8]
        switch (address, candidate) {
        case (.v4, .v4(let b)), (.v6, .v6(let b)):
            bytes = b
        case (.v4, .v6(let b)) where b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff:
            bytes = Array(b[12..<16])
        default:
            return false
        }
        return Self.masked(bytes, prefixLength) == address.bytes
    }

    static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsHere = max(0, min(8, length - index * 8))
            result[index] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
        return result
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPAddress {
    /// The address's bytes (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): b
        }
    }
}
