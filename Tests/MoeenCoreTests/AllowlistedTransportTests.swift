import Foundation
import MoeenCore
import ProviderStandIns
import Testing

/// The allow-list as every outbound caller meets it (key providers call the transport directly).
/// The inner transport is a recorder: no socket is opened.
@Suite("Allow-listed transport")
struct AllowlistedTransportTests {
    @Test("a key-provider call to a host not on the list is refused with no look-up and nothing sent", arguments: [
        "https://kms.eu-central-1.amazonaws.com/", "https://vault.example.org:8200/v1/transit/encrypt/moeen",
        "http://10.0.0.8:8200/v1/transit/keys/moeen", "http://0x7f.0.0.1:8200/v1/sys/health", "http://127.1/",
    ])
    func refusedBeforeLookup(url: String) async {
        let resolver = ScriptedResolver([["127.0.0.1"]])
        let inner = RecordingTransport()
        let transport = AllowlistedTransport(inner, allowlist: .loopback, resolver: resolver)
        do {
            _ = try await transport.send(OutboundRequest(method: "POST", url: url, headers: [("X-Vault-Token", "tok")]))
            Issue.record("expected \(url) to be refused")
        } catch {
            guard case .notAllowed(let host, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(url.contains(host))
            #expect(!error.description.contains("/v1/"))
        }
        #expect(resolver.calls == 0)
        #expect(inner.requests.isEmpty)
    }

    @Test("a listed name is resolved once, checked against the ranges and pinned")
    func listedNamePinned() async throws {
        let resolver = ScriptedResolver([["127.0.0.1", "::1"], ["127.0.0.1", "10.0.0.9"]])
        let inner = RecordingTransport()
        let transport = AllowlistedTransport(inner, allowlist: .loopback, resolver: resolver)
        let response = try await transport.send(OutboundRequest(method: "GET", url: "http://localhost:8200/v1/sys/health"))
        #expect(response.status == 200)
        #expect(inner.requests.map(\.connectAddress) == [IPAddress("127.0.0.1")])

        await #expect(throws: TransportError.self) {
            _ = try await transport.send(OutboundRequest(method: "GET", url: "http://localhost:8200/v1/sys/health"))
        }
        #expect(inner.requests.count == 1)
        #expect(resolver.calls == 2)
    }

    @Test("an approved connect address is judged without a second look-up; literals pass when in range")
    func connectAddressAndLiterals() async throws {
        let resolver = ScriptedResolver([["10.0.0.1"]])
        let inner = RecordingTransport()
        let transport = AllowlistedTransport(inner, allowlist: .loopback, resolver: resolver)
        _ = try await transport.send(OutboundRequest(method: "GET", url: "http://localhost:1/",
                                                     connectAddress: IPAddress("127.0.0.1")))
        _ = try await transport.send(OutboundRequest(method: "GET", url: "http://127.0.0.1:1/"))
        _ = try await transport.send(OutboundRequest(method: "GET", url: "http://[::1]:1/"))
        await #expect(throws: TransportError.self) {
            _ = try await transport.send(OutboundRequest(method: "GET", url: "http://localhost:1/",
                                                         connectAddress: IPAddress("10.0.0.1")))
        }
        #expect(inner.requests.count == 3)
        #expect(resolver.calls == 0)
    }

    @Test("a look-up that hangs ends in a timeout within the request's timeout", .timeLimit(.minutes(1)))
    func lookupDeadline() async {
        let resolver = HangingResolver()
        let inner = RecordingTransport()
        let transport = AllowlistedTransport(inner, allowlist: .loopback, resolver: resolver)
        await #expect(throws: TransportError.timedOut) {
            _ = try await transport.send(OutboundRequest(method: "GET", url: "http://localhost:1/", timeout: .milliseconds(200)))
        }
        #expect(inner.requests.isEmpty)
        resolver.release()
    }
}

/// What the live transport says when it fails: never the URL's path or query.
@Suite("Transport error texts")
struct TransportErrorTextTests {
    @Test("an unusable URL is reported by its endpoint only")
    func invalidURLWithoutPath() async {
        let client = AsyncHTTPClientTransport.makeClient()
        let transport = AsyncHTTPClientTransport(client: client)
        do {
            _ = try await transport.send(OutboundRequest(method: "POST", url: "ftp://127.0.0.1:9/services/T0/B0/secretHookPath"))
            Issue.record("expected a failure")
        } catch {
            #expect(!error.description.contains("secretHookPath"))
            #expect(error == .invalidURL("ftp://127.0.0.1:9"))
        }
        await transport.shutdown()
        try? await client.shutdown()
    }

    @Test("a pinned address must match an address-literal host")
    func literalMismatch() async {
        let client = AsyncHTTPClientTransport.makeClient()
        let transport = AsyncHTTPClientTransport(client: client)
        await #expect(throws: TransportError.self) {
            _ = try await transport.send(OutboundRequest(method: "GET", url: "http://127.0.0.1:9/",
                                                         connectAddress: IPAddress("127.0.0.2")))
        }
        await transport.shutdown()
        try? await client.shutdown()
    }

    @Test("descriptions lose the URL, its path and its query")
    func removingURL() {
        let url = "https://hooks.example.org/services/T0/B0/secretHookPath?token=abc"
        let text = "failed POST \(url); path /services/T0/B0/secretHookPath; query token=abc"
        let cleaned = Redactor.removingURL(url, from: text)
        #expect(!cleaned.contains("secretHookPath"))
        #expect(!cleaned.contains("abc"))
        #expect(cleaned.contains("https://hooks.example.org"))
        #expect(Redactor.endpoint(of: "http://[::1]:8080/a") == "http://[::1]:8080")

        let redactor = Redactor(secrets: [url])
        #expect(!redactor.redact("lost /services/T0/B0/secretHookPath").contains("secretHookPath"))
    }
}
