import Crypto
import Foundation
import MoeenCore
import Testing

/// Inbound webhook signatures with real cryptography: the providers' published vectors, our own contract's
/// pinned vector, and every way a request can be refused.
@Suite("Webhook signatures")
struct WebhookSignatureTests {
    /// What a verification did, without the wording of `.malformed`.
    enum Outcome: Equatable {
        case passed, missing(String), malformed, mismatch, stale(Int64)
    }

    /// The verifiers throw `WebhookSignatureError` only (typed throws); closures here are inferred as untyped.
    static func outcome(_ verify: () throws -> Void) -> Outcome {
        do {
            try verify()
            return .passed
        } catch {
            guard let error = error as? WebhookSignatureError else {
                Issue.record("unexpected error \(error)")
                return .malformed
            }
            switch error {
            case .missing(let header): return .missing(header)
            case .malformed: return .malformed
            case .mismatch: return .mismatch
            case .stale(let age): return .stale(age)
            }
        }
    }

    static func at(_ seconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }

    static let garbage = [
        "", "   ", "=", ",", "sha256=", "v0=", "t=,v1=", "\u{0}", "زيارة", "t=99999999999999999999999,v1=00",
        "https://", "https://:443", "http://[", "%", "v0=%zz", "-----BEGIN PUBLIC KEY-----",
    ]

    @Test("constant-time equality: equal, different, different lengths")
    func constantTimeEquality() {
        #expect(WebhookSignatures.constantTimeEquals([UInt8](), [UInt8]()))
        #expect(WebhookSignatures.constantTimeEquals(Array("abc".utf8), "abc".utf8))
        #expect(!WebhookSignatures.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!WebhookSignatures.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!WebhookSignatures.constantTimeEquals(Array("abcd".utf8), Array("abc".utf8)))
        #expect(!WebhookSignatures.constantTimeEquals([UInt8](), [0]))
    }

    @Test("garbage headers are refused, never a trap", arguments: garbage)
    func garbageNeverTraps(value: String) {
        let body = Array("{}".utf8)
        let now = Self.at(1_700_000_000)
        let key = P256.Signing.PrivateKey().publicKey
        let refused: [Outcome] = [
            Self.outcome { try WebhookSignatures.verifyWhatsApp(body: body, header: value, appSecret: "s") },
            Self.outcome { try WebhookSignatures.verifySlack(body: body, timestamp: value, signature: value, signingSecret: "s", now: now) },
            Self.outcome { try WebhookSignatures.verifySlack(body: body, timestamp: "1700000000", signature: value, signingSecret: "s", now: now) },
            Self.outcome { try WebhookSignatures.verifyMoeen(body: body, header: value, secret: "s", now: now) },
            Self.outcome {
                try WebhookSignatures.verifySendGrid(
                    body: body, timestamp: value, signature: value, publicKey: WebhookSignatures.sendGridPublicKeySetting(key), now: now)
            },
            Self.outcome {
                try WebhookSignatures.verifySendGrid(body: body, timestamp: "1700000000", signature: value, publicKey: value, now: now)
            },
            Self.outcome {
                try WebhookSignatures.verifyTwilio(
                    url: "https://example.org/hooks", body: body, contentType: "application/json", header: value, authToken: "t")
            },
            Self.outcome {
                try WebhookSignatures.verifyTwilio(
                    url: value, body: [], contentType: nil, header: "RSOYDt4T1cUTdK1PDd93/VVr8B8=", authToken: "t")
            },
        ]
        for result in refused {
            #expect(result != .passed)
        }
    }

    @Test("absurdly long header values are refused")
    func absurdLengths() {
        for value in [String(repeating: "a", count: 5000), "sha256=" + String(repeating: "0", count: 10_000)] {
            garbageNeverTraps(value: value)
        }
    }

    @Test("empty secrets are refused rather than used as a key")
    func emptySecrets() {
        let body = Array("test".utf8)
        let now = Self.at(1_700_000_000)
        let whatsApp = WebhookSignatures.signWhatsApp(body: body, appSecret: "")
        let slack = WebhookSignatures.signSlack(body: body, timestamp: 1_700_000_000, signingSecret: "")
        let moeen = WebhookSignatures.signMoeen(body: body, secret: "", timestamp: 1_700_000_000)
        let twilio = WebhookSignatures.signTwilio(url: "https://example.org/", formParameters: [], authToken: "")
        let outcomes = [
            Self.outcome { try WebhookSignatures.verifyWhatsApp(body: body, header: whatsApp, appSecret: "") },
            Self.outcome {
                try WebhookSignatures.verifySlack(body: body, timestamp: "1700000000", signature: slack, signingSecret: "", now: now)
            },
            Self.outcome { try WebhookSignatures.verifyMoeen(body: body, header: moeen, secret: "", now: now) },
            Self.outcome {
                try WebhookSignatures.verifyTwilio(url: "https://example.org/", body: [], contentType: nil, header: twilio, authToken: "")
            },
            Self.outcome { try WebhookSignatures.verifyGoogleChannelToken(header: "", expected: "") },
        ]
        #expect(outcomes == Array(repeating: .malformed, count: 5))
    }
}

// MARK: - WhatsApp

extension WebhookSignatureTests {
    @Suite("WhatsApp X-Hub-Signature-256")
    struct WhatsApp {
        /// A delivery status as Meta posts it; the signature was computed once with Python's `hmac` module.
        static let body = Array(
            #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA","status":"delivered","timestamp":"1700000000","recipient_id":"966551234567"}]}}]}]}"#
                .utf8)
        static let secret = "example_app_secret"
        static let pinned = "sha256=3f853ce595541d45ad7d568a6c050dfacca31a0863ff2d5890911cc53c0f0248"

        func verify(_ header: String?, secret: String = Self.secret, body: [UInt8] = Self.body) -> Outcome {
            WebhookSignatureTests.outcome { try WebhookSignatures.verifyWhatsApp(body: body, header: header, appSecret: secret) }
        }

        @Test("the reference HMAC-SHA256(\"secret\", \"test\") as a header")
        func referenceVector() {
            let header = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
            #expect(WebhookSignatures.signWhatsApp(body: Array("test".utf8), appSecret: "secret") == header)
            #expect(verify(header, secret: "secret", body: Array("test".utf8)) == .passed)
        }

        @Test("a pinned status webhook passes, with surrounding whitespace and in upper-case hex")
        func good() {
            #expect(WebhookSignatures.signWhatsApp(body: Self.body, appSecret: Self.secret) == Self.pinned)
            #expect(verify(Self.pinned) == .passed)
            #expect(verify("  \(Self.pinned)\t") == .passed)
            #expect(verify("sha256=" + Self.pinned.dropFirst(7).uppercased()) == .passed)
        }

        @Test("wrong secret or changed body is a mismatch")
        func wrong() {
            #expect(verify(Self.pinned, secret: "another_secret") == .mismatch)
            var tampered = Self.body
            tampered[tampered.count - 5] = UInt8(ascii: "X")
            #expect(verify(Self.pinned, body: tampered) == .mismatch)
        }

        @Test("missing header, missing sha256= prefix, odd or wrong length, non-hex")
        func malformed() {
            let hex = String(Self.pinned.dropFirst(7))
            #expect(verify(nil) == .missing("X-Hub-Signature-256"))
            #expect(verify(" ") == .missing("X-Hub-Signature-256"))
            #expect(verify(hex) == .malformed)
            #expect(verify("sha1=" + hex) == .malformed)
            #expect(verify("sha256=" + hex.dropLast()) == .malformed)
            #expect(verify("sha256=" + hex.dropLast(2)) == .malformed)
            #expect(verify("sha256=" + hex + "00") == .malformed)
            #expect(verify("sha256=" + hex.dropLast() + "g") == .malformed)
            #expect(verify("sha256=" + String(repeating: "ab", count: 3000)) == .malformed)
        }
    }
}

// MARK: - Twilio

extension WebhookSignatureTests {
    /// Vectors: PROVIDERS.md's (Twilio's documented example) and those of Twilio's own SDK tests
    /// (twilio-python `tests/unit/test_request_validator.py`), which this implementation must agree with.
    @Suite("Twilio X-Twilio-Signature")
    struct Twilio {
        static let token = "12345"
        static let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        static let parameters = [
            ("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
            ("From", "+14158675309"), ("To", "+18005551212"),
        ]
        static let form = "application/x-www-form-urlencoded"
        static let documented = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

        static var formBody: [UInt8] { Array(FormURLEncoding.encode(parameters).utf8) }

        func verify(
            url: String = Twilio.url, body: [UInt8] = Twilio.formBody, contentType: String? = Twilio.form,
            header: String?, token: String = Twilio.token
        ) -> Outcome {
            WebhookSignatureTests.outcome {
                try WebhookSignatures.verifyTwilio(url: url, body: body, contentType: contentType, header: header, authToken: token)
            }
        }

        @Test("the documented example: signing reproduces it and the form post passes")
        func documentedVector() {
            #expect(WebhookSignatures.signTwilio(url: Self.url, formParameters: Self.parameters, authToken: Self.token) == Self.documented)
            #expect(verify(header: Self.documented) == .passed)
            #expect(verify(contentType: "Application/X-WWW-Form-Urlencoded; charset=utf-8", header: " \(Self.documented) ") == .passed)
            // The order of the body's fields does not matter: the parameters are sorted.
            let shuffled = Array(FormURLEncoding.encode(Self.parameters.reversed()).utf8)
            #expect(verify(body: shuffled, header: Self.documented) == .passed)
        }

        @Test("wrong token, changed or extra parameter: mismatch")
        func wrong() {
            #expect(verify(header: Self.documented, token: "54321") == .mismatch)
            let changed = Self.parameters.map { $0.0 == "Digits" ? ($0.0, "9999") : $0 }
            #expect(verify(body: Array(FormURLEncoding.encode(changed).utf8), header: Self.documented) == .mismatch)
            let extra = Self.parameters + [("Body", "hi")]
            #expect(verify(body: Array(FormURLEncoding.encode(extra).utf8), header: Self.documented) == .mismatch)
            #expect(verify(body: [], header: Self.documented) == .mismatch)
        }

        @Test("signed without a port, received with the default :443")
        func receivedWithDefaultPort() {
            #expect(verify(url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", header: Self.documented) == .passed)
        }

        @Test("signed with an explicit :443, received without it (SDK vector) and with it")
        func signedWithDefaultPort() {
            let signedWithPort = "kvajT1Ptam85bY51eRf/AJRuM3w="
            let url443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            #expect(WebhookSignatures.signTwilio(url: url443, formParameters: Self.parameters, authToken: Self.token) == signedWithPort)
            #expect(verify(header: signedWithPort) == .passed)
            #expect(verify(url: url443, header: signedWithPort) == .passed)
        }

        @Test("http: :80 added (SDK vector); a named port is tried as given and removed (SDK vectors)")
        func httpAndOtherPorts() {
            #expect(verify(url: "http://mycompany.com/myapp.php?foo=1&bar=2", header: "0ZXoZLH/DfblKGATFgpif+LLRf4=") == .passed)
            #expect(verify(url: "http://mycompany.com:1234/myapp.php?foo=1&bar=2", header: "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=") == .passed)
            #expect(verify(url: "https://mycompany.com:1234/myapp.php?foo=1&bar=2", header: Self.documented) == .passed)
            // A non-default port is never added: a signature over :8443 fails at the port-less URL.
            let over8443 = WebhookSignatures.signTwilio(
                url: "https://mycompany.com:8443/myapp.php?foo=1&bar=2", formParameters: Self.parameters, authToken: Self.token)
            #expect(verify(header: over8443) == .mismatch)
            // :80 is not the https default.
            let over80 = WebhookSignatures.signTwilio(
                url: "https://mycompany.com:80/myapp.php?foo=1&bar=2", formParameters: Self.parameters, authToken: Self.token)
            #expect(verify(header: over80) == .mismatch)
        }

        @Test("the query string is part of the signed URL")
        func queryIsSigned() {
            #expect(verify(url: "https://mycompany.com/myapp.php?foo=1&bar=3", header: Self.documented) == .mismatch)
            #expect(verify(url: "https://mycompany.com/myapp.php", header: Self.documented) == .mismatch)
            #expect(verify(url: "https://mycompany.com/myapp.php?bar=2&foo=1", header: Self.documented) == .mismatch)
            let withoutQuery = WebhookSignatures.signTwilio(
                url: "https://mycompany.com/myapp.php", formParameters: Self.parameters, authToken: Self.token)
            #expect(verify(header: withoutQuery) == .mismatch)
        }

        @Test("repeated parameters: sorted by name then value, exact repeats counted once (SDK vector)")
        func repeatedParameters() {
            let expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
            let repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
            #expect(WebhookSignatures.signTwilio(url: Self.url, formParameters: repeated, authToken: Self.token) == expected)
            let body = Array("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234".utf8)
            #expect(verify(body: body, header: expected) == .passed)
            #expect(verify(body: Array("Digits=1234&Digits=5678&SidAccount=AC123&Sid=CA123".utf8), header: expected) == .passed)
            // A different value under the repeated name is a different request.
            #expect(verify(body: Array("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1235".utf8), header: expected) == .mismatch)
        }

        @Test("JSON body covered by bodySHA256 (SDK vector): good, body tampered, hash missing or garbled")
        func bodySHA256() {
            let body = Array(#"{"property": "value", "boolean": true}"#.utf8)
            let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
            #expect(WebhookSignatures.twilioBodySHA256(body) == hash)
            let url = Self.url + "&bodySHA256=" + hash
            let signature = "a9nBmqA0ju/hNViExpshrM61xv4="
            #expect(WebhookSignatures.signTwilio(url: url, formParameters: [], authToken: Self.token) == signature)
            #expect(verify(url: url, body: body, contentType: "application/json", header: signature) == .passed)
            #expect(verify(url: url.replacingOccurrences(of: ".com", with: ".com:443"), body: body, contentType: "application/json", header: signature) == .passed)

            var tampered = body
            tampered[3] = UInt8(ascii: "P")
            #expect(verify(url: url, body: tampered, contentType: "application/json", header: signature) == .mismatch)
            // The hash is checked whatever the content type claims.
            #expect(verify(url: url, body: tampered, contentType: Self.form, header: signature) == .mismatch)

            // Signed over the URL alone, but the URL carries no hash: the body would be unauthenticated.
            let urlOnly = WebhookSignatures.signTwilio(url: Self.url, formParameters: [], authToken: Self.token)
            #expect(verify(body: body, contentType: "application/json", header: urlOnly) == .malformed)
            #expect(verify(body: body, contentType: nil, header: urlOnly) == .malformed)
            // An empty body (a GET-style callback) needs no hash.
            #expect(verify(body: [], contentType: nil, header: urlOnly) == .passed)

            let garbled = Self.url + "&bodySHA256=xyz"
            let overGarbled = WebhookSignatures.signTwilio(url: garbled, formParameters: [], authToken: Self.token)
            #expect(verify(url: garbled, body: body, contentType: "application/json", header: overGarbled) == .malformed)
            #expect(verify(url: url, body: body, contentType: "application/json", header: signature, token: "54321") == .mismatch)
        }

        @Test("missing, non-base64 or wrong-length headers; unreadable URLs")
        func malformed() {
            #expect(verify(header: nil) == .missing("X-Twilio-Signature"))
            #expect(verify(header: "") == .missing("X-Twilio-Signature"))
            #expect(verify(header: "RSOYDt4T1cUTdK1PDd93/VVr8B8") == .malformed)
            #expect(verify(header: "RSOYDt4T1cUTdK1PDd93/VVr8B8=AAAA") == .malformed)
            #expect(verify(header: "RSOYDt4T1cUTdK1PDd93/VVr8B*=") == .malformed)
            #expect(verify(url: "mycompany.com/myapp.php", header: Self.documented) == .malformed)
            #expect(verify(url: "https://mycompany.com:443x/myapp.php", header: Self.documented) == .malformed)
            #expect(verify(url: "https://mycompany.com:99999/myapp.php", header: Self.documented) == .malformed)
            #expect(verify(url: "https:///myapp.php", header: Self.documented) == .malformed)
            #expect(verify(url: "https://[::1/myapp.php", header: Self.documented) == .malformed)
            #expect(verify(url: "https://mycompany.com/" + String(repeating: "a", count: 9000), header: Self.documented) == .malformed)
        }

        @Test("user info and IPv6 hosts keep their colons; only the port is touched")
        func authorityForms() {
            for url in ["https://user:pass@mycompany.com/hook", "https://[2001:db8::1]/hook", "http://[::1]:8080/hook?x=1"] {
                let signature = WebhookSignatures.signTwilio(url: url, formParameters: [], authToken: Self.token)
                #expect(verify(url: url, body: [], contentType: nil, header: signature) == .passed)
            }
            let overDefault = WebhookSignatures.signTwilio(url: "https://[2001:db8::1]:443/hook", formParameters: [], authToken: Self.token)
            #expect(verify(url: "https://[2001:db8::1]/hook", body: [], contentType: nil, header: overDefault) == .passed)
            let overUser = WebhookSignatures.signTwilio(url: "https://user:pass@mycompany.com:443/hook", formParameters: [], authToken: Self.token)
            #expect(verify(url: "https://user:pass@mycompany.com/hook", body: [], contentType: nil, header: overUser) == .passed)
        }
    }
}

// MARK: - SendGrid

extension WebhookSignatureTests {
    @Suite("SendGrid signed event webhook")
    struct SendGrid {
        static let body = Array(#"[{"email":"a@example.org","event":"delivered","sg_event_id":"ev1","sg_message_id":"m1.f","timestamp":1700000000}]"#.utf8)
        static let timestamp: Int64 = 1_700_000_000
        let key = P256.Signing.PrivateKey()

        var setting: String { WebhookSignatures.sendGridPublicKeySetting(key.publicKey) }

        func verify(
            body: [UInt8] = SendGrid.body, timestamp: String? = "1700000000", signature: String?, publicKey: String? = nil,
            now: Int64 = SendGrid.timestamp + 10
        ) -> Outcome {
            WebhookSignatureTests.outcome {
                try WebhookSignatures.verifySendGrid(
                    body: body, timestamp: timestamp, signature: signature, publicKey: publicKey ?? setting,
                    now: WebhookSignatureTests.at(now))
            }
        }

        @Test("SendGrid's published vector (sendgrid-python's EventWebhook test) passes, and fails for another key")
        func publishedVector() {
            let payload = Array(
                (#"[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]"#
                    + "\r\n").utf8)
            let publicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
            let signature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
            #expect(verify(body: payload, timestamp: "1600112502", signature: signature, publicKey: publicKey, now: 1_600_112_502) == .passed)
            let otherKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
            #expect(verify(body: payload, timestamp: "1600112502", signature: signature, publicKey: otherKey, now: 1_600_112_502) == .mismatch)
            #expect(verify(body: Array("payload".utf8), timestamp: "1600112502", signature: signature, publicKey: publicKey, now: 1_600_112_502) == .mismatch)
        }

        @Test("a request signed with a generated key passes, also with the key as PEM")
        func good() throws {
            let signature = try WebhookSignatures.signSendGrid(body: Self.body, timestamp: Self.timestamp, privateKey: key)
            #expect(verify(signature: signature) == .passed)
            #expect(verify(timestamp: " 1700000000 ", signature: "\t\(signature) ") == .passed)
            #expect(verify(signature: signature, publicKey: key.publicKey.pemRepresentation) == .passed)
            #expect(verify(signature: signature, now: Self.timestamp + 300) == .passed)
            #expect(verify(signature: signature, now: Self.timestamp - 300) == .passed)
        }

        @Test("body tampered, timestamp tampered, another key: mismatch")
        func tampered() throws {
            let signature = try WebhookSignatures.signSendGrid(body: Self.body, timestamp: Self.timestamp, privateKey: key)
            var body = Self.body
            body[10] ^= 0x01
            #expect(verify(body: body, signature: signature) == .mismatch)
            #expect(verify(body: Self.body + [UInt8(ascii: "\n")], signature: signature) == .mismatch)
            #expect(verify(timestamp: "1700000001", signature: signature) == .mismatch)
            let other = WebhookSignatures.sendGridPublicKeySetting(P256.Signing.PrivateKey().publicKey)
            #expect(verify(signature: signature, publicKey: other) == .mismatch)
        }

        @Test("six minutes old, or six minutes ahead: stale")
        func stale() throws {
            let signature = try WebhookSignatures.signSendGrid(body: Self.body, timestamp: Self.timestamp, privateKey: key)
            #expect(verify(signature: signature, now: Self.timestamp + 360) == .stale(360))
            #expect(verify(signature: signature, now: Self.timestamp - 360) == .stale(-360))
            #expect(verify(signature: signature, now: Self.timestamp + 301) == .stale(301))
        }

        @Test("bad base64, not a DER signature, missing headers, bad timestamps")
        func malformed() throws {
            let signature = try WebhookSignatures.signSendGrid(body: Self.body, timestamp: Self.timestamp, privateKey: key)
            #expect(verify(signature: "not base64!") == .malformed)
            #expect(verify(signature: Data("not a DER signature".utf8).base64EncodedString()) == .malformed)
            #expect(verify(signature: nil) == .missing("X-Twilio-Email-Event-Webhook-Signature"))
            #expect(verify(timestamp: nil, signature: signature) == .missing("X-Twilio-Email-Event-Webhook-Timestamp"))
            #expect(verify(timestamp: "timestamp", signature: signature) == .malformed)
            #expect(verify(timestamp: "-1700000000", signature: signature) == .malformed)
            #expect(verify(timestamp: "1700000000.5", signature: signature) == .malformed)
            #expect(verify(timestamp: "99999999999999999999999", signature: signature) == .malformed)
        }

        @Test("a public key that is not P-256, or not a key at all, is malformed")
        func badKeys() throws {
            let signature = try WebhookSignatures.signSendGrid(body: Self.body, timestamp: Self.timestamp, privateKey: key)
            let p384 = P384.Signing.PrivateKey().publicKey.derRepresentation.base64EncodedString()
            #expect(verify(signature: signature, publicKey: p384) == .malformed)
            let curve25519 = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
            #expect(verify(signature: signature, publicKey: curve25519) == .malformed)
            #expect(verify(signature: signature, publicKey: "garbage") == .malformed)
            #expect(verify(signature: signature, publicKey: Data("garbage but base64".utf8).base64EncodedString()) == .malformed)
            #expect(verify(signature: signature, publicKey: "") == .malformed)
            #expect(verify(signature: signature, publicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----") == .malformed)
        }
    }
}

// MARK: - Slack

extension WebhookSignatureTests {
    @Suite("Slack X-Slack-Signature")
    struct Slack {
        /// Slack's documented example ("Verifying requests from Slack"), as PROVIDERS.md quotes it.
        static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
        static let timestamp: Int64 = 1_531_420_618
        static let body = Array(
            "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
                .utf8)
        static let documented = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

        func verify(
            body: [UInt8] = Slack.body, timestamp: String? = "1531420618", signature: String? = Slack.documented,
            secret: String = Slack.secret, now: Int64 = Slack.timestamp + 5
        ) -> Outcome {
            WebhookSignatureTests.outcome {
                try WebhookSignatures.verifySlack(
                    body: body, timestamp: timestamp, signature: signature, signingSecret: secret, now: WebhookSignatureTests.at(now))
            }
        }

        @Test("the documented example: signing reproduces it and it passes within 300 s either way")
        func documentedVector() {
            #expect(WebhookSignatures.signSlack(body: Self.body, timestamp: Self.timestamp, signingSecret: Self.secret) == Self.documented)
            #expect(verify() == .passed)
            #expect(verify(now: Self.timestamp + 300) == .passed)
            #expect(verify(now: Self.timestamp - 300) == .passed)
            #expect(verify(timestamp: " 1531420618\r\n", signature: " \(Self.documented) ") == .passed)
        }

        @Test("301 s old or 301 s ahead: stale")
        func stale() {
            #expect(verify(now: Self.timestamp + 301) == .stale(301))
            #expect(verify(now: Self.timestamp - 301) == .stale(-301))
        }

        @Test("tampered body, another timestamp, wrong secret: mismatch")
        func tampered() {
            #expect(verify(body: Self.body.dropLast() + [UInt8(ascii: "d")]) == .mismatch)
            #expect(verify(timestamp: "1531420619") == .mismatch)
            #expect(verify(secret: "8f742231b10e8888abcd99yyyzzz85a6") == .mismatch)
        }

        @Test("missing headers, v1= refused, bad hex, bad and absurd timestamps never trap")
        func malformed() {
            #expect(verify(signature: nil) == .missing("X-Slack-Signature"))
            #expect(verify(timestamp: nil) == .missing("X-Slack-Request-Timestamp"))
            #expect(verify(signature: "v1=" + Self.documented.dropFirst(3)) == .malformed)
            #expect(verify(signature: String(Self.documented.dropFirst(3))) == .malformed)
            #expect(verify(signature: Self.documented + "0") == .malformed)
            #expect(verify(timestamp: "soon") == .malformed)
            #expect(verify(timestamp: "+1531420618") == .malformed)
            #expect(verify(timestamp: "99999999999999999999999") == .malformed)
            // The largest representable timestamp, correctly signed, is merely stale.
            let far = WebhookSignatures.signSlack(body: Self.body, timestamp: Int64.max, signingSecret: Self.secret)
            #expect(verify(timestamp: "\(Int64.max)", signature: far) == .stale(Self.timestamp + 5 - Int64.max))
            // An absurd "now" is clamped, not trapped on.
            #expect(WebhookSignatureTests.outcome {
                try WebhookSignatures.verifySlack(
                    body: Self.body, timestamp: "\(Int64.max)", signature: far, signingSecret: Self.secret,
                    now: Date(timeIntervalSince1970: -1e300))
            } != .passed)
            #expect(WebhookSignatureTests.outcome {
                try WebhookSignatures.verifySlack(
                    body: Self.body, timestamp: "0", signature: WebhookSignatures.signSlack(body: Self.body, timestamp: 0, signingSecret: Self.secret),
                    signingSecret: Self.secret, now: Date(timeIntervalSince1970: .infinity))
            } != .passed)
        }
    }
}

// MARK: - Seha and Tatman (our contract)

extension WebhookSignatureTests {
    @Suite("Seha/Tatman X-Moeen-Signature")
    struct Moeen {
        static let secret = "whsec_test"
        static let timestamp: Int64 = 1_700_000_000
        static let body = Array(#"{"id":"evt_1","type":"claim.updated"}"#.utf8)
        /// PROVIDERS.md's contract example, pinned (cross-checked by hand with Python's `hmac`).
        static let pinned = "251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d"

        func verify(_ header: String?, body: [UInt8] = Moeen.body, now: Int64 = Moeen.timestamp + 5) -> Outcome {
            WebhookSignatureTests.outcome {
                try WebhookSignatures.verifyMoeen(body: body, header: header, secret: Self.secret, now: WebhookSignatureTests.at(now))
            }
        }

        @Test("the contract example: computed independently, pinned, signed and verified")
        func contractVector() {
            let independent = HMAC<SHA256>.authenticationCode(
                for: Array("1700000000.".utf8) + Self.body, using: SymmetricKey(data: Array(Self.secret.utf8)))
            #expect(Hex.encode(independent) == Self.pinned)
            let header = WebhookSignatures.signMoeen(body: Self.body, secret: Self.secret, timestamp: Self.timestamp)
            #expect(header == "t=1700000000,v1=" + Self.pinned)
            #expect(verify(header) == .passed)
            #expect(verify(" t=1700000000 , v1=\(Self.pinned) ") == .passed)
            #expect(verify("v1=\(Self.pinned),t=1700000000") == .passed)
            #expect(verify("t=1700000000,v1=\(Self.pinned.uppercased())") == .passed)
            // Entries of schemes we do not know are skipped.
            #expect(verify("t=1700000000,v0=abc,v1=\(Self.pinned)") == .passed)
        }

        @Test("301 s old or ahead: stale; 300 s: fine")
        func stale() {
            let header = "t=1700000000,v1=" + Self.pinned
            #expect(verify(header, now: Self.timestamp + 300) == .passed)
            #expect(verify(header, now: Self.timestamp + 301) == .stale(301))
            #expect(verify(header, now: Self.timestamp - 301) == .stale(-301))
        }

        @Test("several v1 entries during a secret change: any match passes, none is a mismatch")
        func rotation() {
            let old = WebhookSignatures.signMoeen(body: Self.body, secret: "whsec_old", timestamp: Self.timestamp)
            let oldHex = String(old.split(separator: "=").last!)
            #expect(verify("t=1700000000,v1=\(oldHex),v1=\(Self.pinned)") == .passed)
            #expect(verify("t=1700000000,v1=\(Self.pinned),v1=\(oldHex)") == .passed)
            #expect(verify("t=1700000000,v1=\(oldHex)") == .mismatch)
            #expect(verify("t=1700000000,v1=\(oldHex),v1=\(String(repeating: "0", count: 64))") == .mismatch)
            #expect(verify("t=1700000001,v1=\(Self.pinned)") == .mismatch)
            #expect(verify("t=1700000000,v1=\(Self.pinned)", body: Self.body + [0x20]) == .mismatch)
        }

        @Test("missing t, missing v1, repeated t, garbage", arguments: [
            "v1=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "t=1700000000",
            "t=1700000000,t=1700000000,v1=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "t=soon,v1=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "t=1700000000,v1=251f",
            "t=1700000000,v1=zz1f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "t=1700000000;v1=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "t=1700000000,,v1=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
            "garbage", "sha256=251f8ca2c1e150ccfcca741dae681b34bff258701b929564c4e7fec5209f6c6d",
        ])
        func malformed(header: String) {
            #expect(verify(header) == .malformed)
        }

        @Test("no header")
        func missing() {
            #expect(verify(nil) == .missing("X-Moeen-Signature"))
            #expect(verify("\t") == .missing("X-Moeen-Signature"))
        }
    }
}

// MARK: - Google Calendar

extension WebhookSignatureTests {
    @Suite("Google Calendar X-Goog-Channel-Token")
    struct Google {
        func verify(_ header: String?, expected: String = "chan-token-6c1f") -> Outcome {
            WebhookSignatureTests.outcome { try WebhookSignatures.verifyGoogleChannelToken(header: header, expected: expected) }
        }

        @Test("equal passes; different, shorter, longer fail; missing is missing")
        func token() {
            #expect(verify("chan-token-6c1f") == .passed)
            #expect(verify(" chan-token-6c1f ") == .passed)
            #expect(verify("chan-token-6c1e") == .mismatch)
            #expect(verify("chan-token-6c1") == .mismatch)
            #expect(verify("chan-token-6c1ff") == .mismatch)
            #expect(verify(nil) == .missing("X-Goog-Channel-Token"))
            #expect(verify("") == .missing("X-Goog-Channel-Token"))
            #expect(verify(String(repeating: "x", count: 5000)) == .malformed)
        }
    }
}
