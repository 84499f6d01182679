import Foundation

/// An IPv4 or IPv6 address as raw bytes, with the range it belongs to.
///
/// Only canonical literals parse: IPv4 as exactly four decimal parts 0–255 without leading zeros
/// (`10.0.0.1`, never `010.0.0.1`, `0x0a.0.0.1`, `167772161` or `10.1`), IPv6 in any RFC 4291 form.
/// The system resolver reads the other IPv4 spellings (octal, hex, integer, short forms) as addresses,
/// so `OutboundTargetPolicy` refuses them instead of guessing (see `isNonCanonicalNumericHost`).
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
        /// Not routable on the internet: benchmarking (198.18.0.0/15), documentation and
        /// protocol-assignment networks, 240.0.0.0/4.
        case reserved = "reserved"
    }

    /// Parses a canonical dotted IPv4 or a (possibly compressed, possibly v4-suffixed) IPv6 literal.
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
            return Self.classifyV6(b)
        }
    }

    /// Whether the address is a loopback address (127.0.0.0/8, ::1, or either embedded in IPv6).
    public var isLoopback: Bool { classification == .loopback }

    static func classifyV4(_ b: [UInt8]) -> Range {
        if b == [169, 254, 169, 254] { return .metadata }
        if b == [0, 0, 0, 0] { return .unspecified }
        if b == [255, 255, 255, 255] || (224...239).contains(b[0]) { return .multicast }
        switch (b[0], b[1], b[2]) {
        case (127, _, _): return .loopback
        case (0, _, _), (10, _, _): return .privateNetwork
        case (172, 16...31, _), (192, 168, _): return .privateNetwork
        // Shared address space (carrier-grade NAT), RFC 6598.
        case (100, 64...127, _): return .privateNetwork
        case (169, 254, _): return .linkLocal
        // Benchmarking (RFC 2544), protocol assignments, the three documentation networks, 240/4.
        case (198, 18...19, _), (192, 0, 0), (192, 0, 2), (198, 51, 100), (203, 0, 113): return .reserved
        case (240...255, _, _): return .reserved
        default: return .public
        }
    }

    static func classifyV6(_ b: [UInt8]) -> Range {
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms: judge the embedded address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)) {
            return classifyV4(Array(b[12..<16]))
        }
        // NAT64 well-known prefix 64:ff9b::/96: the gateway connects to the IPv4 address in the last 4 bytes.
        if b[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
            return classifyV4(Array(b[12..<16]))
        }
        // NAT64 local-use prefix 64:ff9b:1::/48 only exists inside a network.
        if b[0..<6] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] { return .privateNetwork }
        // 6to4 2002::/16: the relay forwards to the IPv4 address in bytes 2–5.
        if b[0] == 0x20 && b[1] == 0x02 {
            return classifyV4(Array(b[2..<6]))
        }
        // AWS's IPv6 instance metadata endpoint fd00:ec2::254.
        if b == [0xfd, 0x00, 0x0e, 0xc2] + Array(repeating: 0, count: 10) + [0x02, 0x54] { return .metadata }
        if b[0] & 0xfe == 0xfc { return .privateNetwork }
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return .linkLocal }
        // Deprecated site-local fec0::/10.
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return .privateNetwork }
        if b[0] == 0xff { return .multicast }
        return .public
    }

    public var description: String {
        switch self {
        case .v4(let b):
            return b.map(String.init).joined(separator: ".")
        case .v6(let b):
            // RFC 5952: lower-case hex, the longest run of two or more zero groups (the first of equal
            // runs) written `::`.
            let groups = stride(from: 0, to: 16, by: 2).map { UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]) }
            var best: (start: Int, length: Int) = (0, 0)
            var index = 0
            while index < groups.count {
                var end = index
                while end < groups.count, groups[end] == 0 { end += 1 }
                if end - index > best.length { best = (index, end - index) }
                index = max(end, index + 1)
            }
            let text = groups.map { String($0, radix: 16) }
            guard best.length >= 2 else { return text.joined(separator: ":") }
            let head = text[..<best.start].joined(separator: ":")
            let tail = text[(best.start + best.length)...].joined(separator: ":")
            return head + "::" + tail
        }
    }

    /// Whether `host` looks like a number the system resolver would read as an IPv4 address, but is not
    /// a canonical dotted quad: every dot-separated part is decimal digits or `0x`-prefixed hex (empty
    /// parts allowed, for trailing dots), and the whole is not `a.b.c.d` with parts 0–255 without leading
    /// zeros. `012.0.0.1` (octal 10.0.0.1), `0x7f.0.0.1`, `2130706433`, `127.1` and `127.0.0.1.` are such hosts.
    public static func isNonCanonicalNumericHost(_ host: String) -> Bool {
        guard parseV4(host) == nil else { return false }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.contains(where: { !$0.isEmpty }) else { return false }
        return parts.allSatisfy { part in
            if part.isEmpty { return true }
            if part.allSatisfy(\.isASCIIDigit) { return true }
            let lower = part.lowercased()
            return lower.hasPrefix("0x") && lower.dropFirst(2).allSatisfy(\.isHexDigit)
        }
    }

    /// Four decimal parts 0–255, each without leading zeros.
    static func parseV4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit),
                  part.count == 1 || part.first != "0", let value = UInt8(part)
            else {
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
                guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit),
                      let value = UInt16(piece, radix: 16)
                else { return nil }
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

extension IPAddress {
    /// Whether `host` (a URL host, brackets allowed) names this machine: `localhost`, or an address literal
    /// in 127.0.0.0/8 or `::1`. Decided from the parsed address only: `127.evil.example` is not loopback.
    public static func isLoopbackHost(_ host: String) -> Bool {
        let trimmed = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if trimmed == "localhost" { return true }
        return IPAddress(trimmed)?.isLoopback ?? false
    }
}
