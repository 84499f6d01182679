import Foundation
import MoeenCore
import Testing
@testable import MoeenSecrets

@Suite("SigV4 signer")
struct SigV4SignerTests {
    /// AWS's published example (PROVIDERS.md, "SigV4 reference").
    @Test("reproduces the AWS reference example")
    func referenceVector() throws {
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "iam")
        let request = OutboundRequest(
            method: "GET",
            url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            headers: [
                (name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8"),
                (name: "Host", value: "iam.amazonaws.com"),
                (name: "X-Amz-Date", value: "20150830T123600Z"),
            ])
        let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
        #expect(SigV4Signer.timestamp(date) == "20150830T123600Z")
        let signature = signer.computeSignature(for: request, at: date)
        #expect(signature.canonicalRequestHash == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        #expect(signature.signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        #expect(signature.signedHeaders == "content-type;host;x-amz-date")
        #expect(signature.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")

        let signed = signer.sign(request, at: date)
        #expect(signed.header("Authorization") == signature.authorization)
    }

    @Test("sign adds Host (with port), X-Amz-Date and the session token, and signs them")
    func addsHeaders() throws {
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing", sessionToken: "testing-session"),
            region: "us-east-1", service: "kms")
        let request = OutboundRequest(
            method: "POST", url: "http://127.0.0.1:4566/",
            headers: [(name: "X-Amz-Target", value: "TrentService.Decrypt")], body: Array("{}".utf8))
        let signed = signer.sign(request, at: Date(timeIntervalSince1970: 0))
        #expect(signed.header("Host") == "127.0.0.1:4566")
        #expect(signed.header("X-Amz-Date") == "19700101T000000Z")
        #expect(signed.header("X-Amz-Security-Token") == "testing-session")
        let authorization = try #require(signed.header("Authorization"))
        #expect(authorization.contains("Credential=testing/19700101/us-east-1/kms/aws4_request"))
        #expect(authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token;x-amz-target"))
        #expect(!authorization.contains("testing-session"))
        #expect(!"\(signer.credentials)".contains("testing-session"))
    }

    @Test("query parameters are sorted and RFC 3986 encoded")
    func canonicalQuery() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing"), region: "us-east-1", service: "kms")
        let request = OutboundRequest(method: "GET", url: "https://example.test/a%20b/?b=2&a=x%2Fy&a=1&c")
        let canonical = signer.computeSignature(for: request, at: Date(timeIntervalSince1970: 0)).canonicalRequest
        let lines = canonical.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[1] == "/a%20b/")
        #expect(lines[2] == "a=1&a=x%2Fy&b=2&c=")
    }
}
