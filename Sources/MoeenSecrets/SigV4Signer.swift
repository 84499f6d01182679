import Crypto
import Foundation
import MoeenCore

/// AWS credentials. `description` never shows the secret.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>, sessionToken: \(sessionToken == nil ? "none" : "<redacted>"))"
    }
}

/// The intermediate values of one AWS Signature Version 4 computation (for tests and debugging).
public struct SigV4Signature: Sendable, Equatable {
    public var canonicalRequest: String
    public var canonicalRequestHash: String
    public var stringToSign: String
    public var signedHeaders: String
    public var signature: String
    public var authorization: String
}

/// AWS Signature Version 4 (header form) for one region and service.
///
/// `sign` adds `Host`, `X-Amz-Date` and (with a session token) `X-Amz-Security-Token` when missing,
/// then `Authorization`. Every header present is signed. The canonical URI encodes each path segment
/// once (right for every service except S3, which this signer is not used for).
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// `request` with the signing headers added, signed at `date`.
    public func sign(_ request: OutboundRequest, at date: Date = Date()) -> OutboundRequest {
        var signed = request
        let components = URLComponents(string: request.url)
        if signed.header("Host") == nil, let host = components?.host {
            let port = components?.port.map { ":\($0)" } ?? ""
            signed.headers.append((name: "Host", value: host + port))
        }
        if signed.header("X-Amz-Date") == nil {
            signed.headers.append((name: "X-Amz-Date", value: Self.timestamp(date)))
        }
        if let token = credentials.sessionToken, signed.header("X-Amz-Security-Token") == nil {
            signed.headers.append((name: "X-Amz-Security-Token", value: token))
        }
        let signature = computeSignature(for: signed, at: date)
        signed.headers.append((name: "Authorization", value: signature.authorization))
        return signed
    }

    /// The signature of `request` as it is (no headers added), at `date`.
    public func computeSignature(for request: OutboundRequest, at date: Date) -> SigV4Signature {
        let timestamp = request.header("X-Amz-Date") ?? Self.timestamp(date)
        let day = String(timestamp.prefix(8))
        let components = URLComponents(string: request.url)

        // Headers: lowercase names, trimmed values with inner runs of spaces collapsed, sorted, repeats joined.
        var headers: [String: [String]] = [:]
        for (name, value) in request.headers where name.lowercased() != "authorization" {
            headers[name.lowercased(), default: []].append(Self.normalizeHeaderValue(value))
        }
        let names = headers.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(headers[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            request.method.uppercased(),
            Self.canonicalURI(components?.percentEncodedPath ?? "/"),
            Self.canonicalQuery(components?.percentEncodedQuery),
            canonicalHeaders,
            signedHeaders,
            Self.hexSHA256(request.body ?? []),
        ].joined(separator: "\n")
        let canonicalRequestHash = Self.hexSHA256(Array(canonicalRequest.utf8))

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, canonicalRequestHash].joined(separator: "\n")

        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return SigV4Signature(
            canonicalRequest: canonicalRequest, canonicalRequestHash: canonicalRequestHash,
            stringToSign: stringToSign, signedHeaders: signedHeaders, signature: signature,
            authorization: authorization)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2) + "T"
            + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z"
    }

    static func hexSHA256(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    private static func normalizeHeaderValue(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespaces)
            .split(separator: " ", omittingEmptySubsequences: true)
            .joined(separator: " ")
    }

    private static func canonicalURI(_ percentEncodedPath: String) -> String {
        if percentEncodedPath.isEmpty { return "/" }
        return percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false)
            .map { segment in uriEncode(String(segment).removingPercentEncoding ?? String(segment)) }
            .joined(separator: "/")
    }

    private static func canonicalQuery(_ percentEncodedQuery: String?) -> String {
        guard let query = percentEncodedQuery, !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            return (uriEncode(decode(parts[0])), uriEncode(parts.count > 1 ? decode(parts[1]) : ""))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX` (uppercase hex).
    static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + Hex.encode([byte]).uppercased()
            }
        }
        return out
    }
}
