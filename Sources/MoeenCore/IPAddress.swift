import Foundation

/// An IPv4 or IPv6 address as raw bytes, with the range it belongs to.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// Which kind of network an address belongs to, for `OutboundTargetPolicy`.
    public enum Range: String, Sendable {
        case `public` = "public"
        case loopback = "loopback"
        case privateNetwork = "private"
        case linkLocal = "link-local"
        case metadata = "cloud metadata"
        case unspecified = "unspecified"
        case multicast = "multicast or broadcast"
    }

    /// Parses a dotted IPv4 or a (possibly compressed, possibly v4-suffixed) IPv6 literal.
    public init?(_ text: String) {
        if let v4 = Self.parseV4(text) {
            self = .v4(v4)
        } else if let v6 = Self.parseV6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    public var classification: Range {
        switch self {
        case .v4(let b):
            return Self.classifyV4(b)
        case .v6(let b):
            if b.allSatisfy({ $0 == 0 }) { return .unspecified }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms: judge the embedded address.
            if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)) {
                return Self.classifyV4(Array(b[12..<16]))
            }
            // AWS's IPv6 instance metadata endpoint fd00:ec2::254.
            if b == [0xfd, 0x00, 0x0e, 0xc2] + Array(repeating: 0, count: 10) + [0x02, 0x54] { return .metadata }
            if b[0] & 0xfe == 0xfc { return .privateNetwork }
            if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return .linkLocal }
            if b[0] == 0xff { return .multicast }
            return .public
        }
    }

    static func classifyV4(_ b: [UInt8]) -> Range {
        if b == [169, 254, 169, 254] { return .metadata }
        if b == [0, 0, 0, 0] { return .unspecified }
        if b == [255, 255, 255, 255] || (224...239).contains(b[0]) { return .multicast }
        switch (b[0], b[1]) {
        case (127, _): return .loopback
        case (0, _), (10, _): return .privateNetwork
        case (172, 16...31), (192, 168), (100, 64...127): return .privateNetwork
        case (169, 254): return .linkLocal
        default: return .public
        }
    }

    public var description: String {
        switch self {
        case .v4(let b):
            return b.map(String.init).joined(separator: ".")
        case .v6(let b):
            var groups: [String] = []
            for index in stride(from: 0, to: 16, by: 2) {
                groups.append(String(UInt16(b[index]) << 8 | UInt16(b[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":")
        }
    }

    static func parseV4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let value = UInt8(part) else {
                return nil
            }
            bytes.append(value)
        }
        return bytes
    }

    static func parseV6(_ raw: String) -> [UInt8]? {
        var text = Substring(raw)
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let v4 = parseV4(String(piece)) {
                    bytes += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 {
            return head.count == 16 ? head : nil
        }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
