import MoeenCore
import Testing

@Suite("Outbound target policy")
struct OutboundTargetPolicyTests {
    @Test("strict policy refuses loopback, private, link-local, metadata", arguments: [
        "https://127.0.0.1/x", "https://10.1.2.3/", "https://172.20.0.1/", "https://192.168.1.1/",
        "https://169.254.10.10/", "https://[::1]/", "https://[fc00::1]/", "https://[fe80::1]/",
        "https://[::ffff:10.0.0.1]/", "https://localhost/", "https://0.0.0.0/",
    ])
    func refusesPrivate(url: String) async {
        await #expect(throws: OutboundPolicyError.self) { try await OutboundTargetPolicy.strict.check(url) }
    }

    @Test("metadata is refused even when private targets are allowed")
    func metadata() async {
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false)
        await #expect(throws: OutboundPolicyError.blockedAddress(host: "169.254.169.254", address: "169.254.169.254",
                                                                 reason: "cloud metadata")) {
            try await policy.check("http://169.254.169.254/latest/meta-data/")
        }
        await #expect(throws: OutboundPolicyError.self) { try await policy.check("http://metadata.google.internal/") }
    }

    @Test("public literal addresses pass; http needs loopback and private allowed")
    func https() async throws {
        try await OutboundTargetPolicy.strict.check("https://93.184.216.34/v3/scopes")
        await #expect(throws: OutboundPolicyError.httpsRequired(host: "93.184.216.34")) {
            try await OutboundTargetPolicy.strict.check("http://93.184.216.34/")
        }
        try await OutboundTargetPolicy.local.check("http://127.0.0.1:9400/v17.0/1")
        await #expect(throws: OutboundPolicyError.httpsRequired(host: "10.0.0.5")) {
            try await OutboundTargetPolicy.local.check("http://10.0.0.5/")
        }
        await #expect(throws: OutboundPolicyError.schemeNotAllowed(scheme: "file", host: "x")) {
            try await OutboundTargetPolicy.local.check("file://x/etc/passwd")
        }
    }

    @Test("the message names the host, not the path or query")
    func message() async {
        do {
            try await OutboundTargetPolicy.strict.check("https://10.0.0.7/hook?token=abc")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.message.contains("10.0.0.7"))
            #expect(!error.message.contains("abc"))
        }
    }

    @Test("IP parsing and ranges")
    func ranges() {
        #expect(IPAddress("172.31.255.255")?.classification == .privateNetwork)
        #expect(IPAddress("172.32.0.1")?.classification == .public)
        #expect(IPAddress("2001:db8::1")?.classification == .public)
        #expect(IPAddress("fe80::1%eth0")?.classification == .linkLocal)
        #expect(IPAddress("::")?.classification == .unspecified)
        #expect(IPAddress("1.2.3") == nil)
    }
}
