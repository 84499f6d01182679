import Foundation
import Logging
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// The connection goes to the address the policy checked (no second look-up that a rebinding DNS
/// server could answer differently), look-ups count inside the call's deadline, and the allow-list holds.
/// Resolvers are scripted; every real connection goes to a loopback stand-in.
@Suite("Outbound pinning")
struct OutboundPinningTests {
    var quietLogger: Logger {
        var logger = Logger(label: "moeen.connectors.tests")
        logger.logLevel = .warning
        return logger
    }

    /// Slack settings whose webhook is `http://{host}:{port}{path of the stand-in's webhook}`.
    func slackSettings(_ settings: [String: String], host: String) throws -> [String: String] {
        let text = try #require(settings["webhook_url"])
        let webhook = try #require(URL(string: text))
        let port = try #require(webhook.port)
        var changed = settings
        changed["webhook_url"] = "http://\(host):\(port)\(webhook.path)"
        return changed
    }

    @Test("the transport gets the checked address, and the resolver is asked once per request")
    func checkedAddressAtTheSeam() async throws {
        let resolver = ScriptedResolver([["127.0.0.1"], ["169.254.169.254"]])
        let transport = RecordingTransport()
        let registry = ConnectorRegistry(
            transport: transport,
            policy: OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver),
            logger: quietLogger)
        let settings = ["webhook_url": "http://rebind.invalid:9/services/T0/B0/pinningHookSecret", "channel": "#ops"]

        let first = await registry.slack.probe(config: settings, timeout: .seconds(60))
        #expect(first.success, "\(first.message)")
        #expect(transport.requests.map(\.connectAddress) == [IPAddress("127.0.0.1")])
        #expect(transport.requests.first?.url == settings["webhook_url"])
        #expect(resolver.calls == 1)

        // The name now "resolves" to the metadata endpoint: refused, nothing sent.
        let second = await registry.slack.probe(config: settings, timeout: .seconds(60))
        #expect(second.error?.category == .policy)
        #expect(transport.requests.count == 1)
        #expect(resolver.calls == 2)
    }

    @Test("over real HTTP, a pinned name reaches the approved loopback address with its own Host header")
    func pinnedOverRealHTTP() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let pinned = try slackSettings(settings, host: "rebind.invalid")
            let pinnedURL = try #require(pinned["webhook_url"])
            let port = try #require(URL(string: pinnedURL)?.port)
            let transport = AsyncHTTPClientTransport(client: sharedClient)
            let resolver = ScriptedResolver([["127.0.0.1"], ["169.254.169.254"]])
            let registry = ConnectorRegistry(
                transport: transport,
                policy: OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver),
                logger: quietLogger)

            let result = await registry.slack.probe(config: pinned, timeout: .seconds(60))
            #expect(result.success, "\(result.message)")
            let received = await standIn.recorder.requests
            #expect(received.count == 1)
            #expect(received.first?.header("Host") == "rebind.invalid:\(port)")
            #expect(resolver.calls == 1)
            #expect(await transport.pinnedClientCount == 1)

            let second = await registry.slack.probe(config: pinned, timeout: .seconds(60))
            #expect(second.error?.category == .policy)
            #expect(await standIn.recorder.count == 1)
            await transport.shutdown()
        }
    }

    @Test("pinned clients are bounded, least recently used evicted, all shut down with the transport")
    func pinnedClientsBounded() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let transport = AsyncHTTPClientTransport(client: sharedClient, pinnedClientLimit: 2)
            let loopback = IPAddress("127.0.0.1")
            func post(_ host: String) async throws -> Int {
                let url = try #require(try slackSettings(settings, host: host)["webhook_url"])
                return try await transport.send(OutboundRequest(
                    method: "POST", url: url, headers: [("Content-Type", "application/json")],
                    body: Array(#"{"text":"hi"}"#.utf8), connectAddress: loopback)).status
            }
            for host in ["a.invalid", "b.invalid", "c.invalid", "b.invalid"] {
                let status = try await post(host)
                #expect(status == 200)
            }
            #expect(await transport.pinnedClientCount == 2)
            let hosts = await standIn.recorder.requests.compactMap { $0.header("Host")?.split(separator: ":").first }
            #expect(hosts == ["a.invalid", "b.invalid", "c.invalid", "b.invalid"])

            await transport.shutdown()
            #expect(await transport.pinnedClientCount == 0)
            await #expect(throws: TransportError.self) { _ = try await post("a.invalid") }
            #expect(await standIn.recorder.count == 4)
        }
    }

    @Test("a look-up that never answers ends the call as a timeout at its deadline", .timeLimit(.minutes(1)))
    func hangingLookupTimesOut() async {
        let resolver = HangingResolver()
        let transport = RecordingTransport()
        let registry = ConnectorRegistry(
            transport: transport,
            policy: OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver),
            logger: quietLogger)
        let settings = ["webhook_url": "http://slow.invalid/services/T0/B0/slowHookSecret", "channel": "#ops"]
        let result = await registry.slack.probe(config: settings, timeout: .milliseconds(200))
        #expect(result.error?.isTimeout == true)
        #expect(result.error?.kind == .retryable)
        #expect(transport.requests.isEmpty)
        #expect(resolver.calls == 1)
        resolver.release()
    }

    @Test("the allow-list: a listed loopback name works, any other host is refused before a look-up")
    func allowlist() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let live = AsyncHTTPClientTransport(client: sharedClient)
            let resolver = ScriptedResolver([["127.0.0.1"]])
            let transport = AllowlistedTransport(live, allowlist: .loopback, resolver: resolver)
            let registry = ConnectorRegistry(
                transport: transport,
                policy: OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, allowlist: .loopback,
                                             resolver: resolver),
                logger: quietLogger)

            let listed = await registry.slack.probe(config: try slackSettings(settings, host: "localhost"), timeout: .seconds(60))
            #expect(listed.success, "\(listed.message)")
            #expect(resolver.calls == 1, "one look-up: the transport reuses the policy's address")
            let literal = await registry.slack.probe(config: settings, timeout: .seconds(60))
            #expect(literal.success, "\(literal.message)")

            let refused = await registry.slack.probe(config: try slackSettings(settings, host: "hooks.example.org"),
                                                     timeout: .seconds(60))
            #expect(refused.error?.category == .policy)
            #expect(refused.message.contains("hooks.example.org"))
            #expect(resolver.calls == 1)
            #expect(await standIn.recorder.count == 2)

            // A key provider calls the transport directly: held to the same list.
            await #expect(throws: TransportError.self) {
                _ = try await transport.send(OutboundRequest(method: "POST", url: "https://vault.example.org:8200/v1/transit/encrypt/moeen"))
            }
            #expect(resolver.calls == 1)
            await live.shutdown()
        }
    }
}
