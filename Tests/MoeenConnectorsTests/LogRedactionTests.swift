import Foundation
import Logging
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

/// A Slack webhook URL is itself the credential: no log line (debug included), metadata, recorded
/// exchange or error message may show its path, whatever the failure says.
@Suite("URLs in logs and errors")
struct LogRedactionTests {
    static let secret = "leakyWebhookSecret0000"

    func expectNoLeak(_ capture: LogCapture, _ texts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!capture.lines.isEmpty, "the call logged nothing at debug level", sourceLocation: sourceLocation)
        #expect(!capture.text.contains(Self.secret), "\(capture.text)", sourceLocation: sourceLocation)
        for text in texts {
            #expect(!text.contains(Self.secret), "\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("transport failures that quote the URL are redacted in logs, exchanges and errors", arguments: [
        "invalidURL", "connectFailed", "connectionLost", "pathOnly",
    ])
    func failuresQuotingTheURL(failure: String) async throws {
        let transport = RecordingTransport { request throws(TransportError) in
            let path = URLComponents(string: request.url)?.percentEncodedPath ?? ""
            switch failure {
            case "invalidURL": throw .invalidURL(request.url)
            case "connectFailed": throw .connectFailed("connection refused while calling \(request.url)")
            case "connectionLost": throw .connectionLost("reset after POST \(request.url)")
            default: throw .connectionLost("reset after POST \(path)")
            }
        }
        let capture = LogCapture()
        let registry = ConnectorRegistry(transport: transport, policy: .local, logger: capture.logger())
        let settings = ["webhook_url": "http://127.0.0.1:9/services/T0/B0/\(Self.secret)", "channel": "#ops"]

        var errorTexts: [String] = []
        do {
            _ = try await registry.slack.send(ChannelMessage(to: "", text: "hello"), config: settings, timeout: .seconds(60))
            Issue.record("expected a failure")
        } catch {
            errorTexts = [error.message, error.description]
        }
        let probe = await registry.slack.probe(config: settings, timeout: .seconds(60))
        #expect(!probe.success)
        #expect(transport.requests.count == 2)
        expectNoLeak(capture, errorTexts + [probe.message, try exchangesText(probe.exchanges)])
    }

    @Test("a refused loopback port: nothing shows the webhook path")
    func refusedPort() async throws {
        // A port that was just listening and is now closed.
        let standIn = SlackStandIn()
        let base = try await standIn.start()
        try await standIn.shutdown()
        let capture = LogCapture()
        let transport = AsyncHTTPClientTransport(client: sharedClient)
        let registry = ConnectorRegistry(transport: transport, policy: .local, logger: capture.logger())
        let settings = ["webhook_url": base.absoluteString + "/services/T0/B0/\(Self.secret)", "channel": "#ops"]

        // AsyncHTTPClient retries a refused connection until the deadline, so this ends as a network
        // failure or a timeout; either way its texts are checked.
        let probe = await registry.slack.probe(config: settings, timeout: .seconds(1))
        #expect(!probe.success)
        #expect(probe.error?.category == .network || probe.error?.category == .timeout)
        var errorTexts: [String] = []
        do {
            _ = try await registry.slack.send(ChannelMessage(to: "", text: "hello"), config: settings, timeout: .seconds(1))
            Issue.record("expected a failure")
        } catch {
            errorTexts = [error.message, error.description]
        }
        expectNoLeak(capture, errorTexts + [probe.message, try exchangesText(probe.exchanges)])
        await transport.shutdown()
    }
}
