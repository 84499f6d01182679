import Foundation
import Prometheus
import Synchronization
import Vapor

/// The service's Prometheus metrics (`GET /metrics`; README "Metrics").
///
/// Each application owns one `PrometheusCollectorRegistry`, so the many applications of a test process never
/// share a counter; the executable also hands the same registry to swift-metrics' global system
/// (`bootstrapProcessMetrics`). Every name starts with `moeen_` and carries its unit; every label takes a
/// small, fixed set of values (route templates, channels, provider and integration types, outcomes, public
/// ids of integrations) — never a phone number, an address, a message text or a secret.
public final class MoeenMetrics: Sendable {
    /// The counters and histograms recorded as things happen (scrape-time gauges are made per scrape).
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    private let timeout = Mutex(MetricsScrape.queryTimeout)

    /// How long the scrape-time queries may take before the scrape goes on without them (4 s; tests on a busy
    /// machine lengthen it, so a slow answer is never mistaken for none).
    var scrapeTimeout: Duration {
        get { timeout.withLock { $0 } }
        set { timeout.withLock { $0 = newValue } }
    }

    /// Buckets of every duration histogram: 5 ms to 30 s.
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    // MARK: - Names and help texts (one place, so a name never gets two help texts; computed: descriptors are not Sendable)

    enum Name {
        static var httpRequests: MetricNameDescriptor { descriptor("moeen_http_requests_total", "HTTP requests by route template, method and status.") }
        static var httpDuration: MetricNameDescriptor { descriptor("moeen_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.") }
        static var dispatchAttempts: MetricNameDescriptor { descriptor(
            "moeen_dispatch_attempts_total", "Messages handed to a provider by the dispatcher, by channel and outcome (sent or the error category).") }
        static var dispatchDuration: MetricNameDescriptor { descriptor(
            "moeen_dispatch_attempt_duration_seconds", "Time a provider took to take or refuse one message, by channel and outcome.") }
        static var webhooksReceived: MetricNameDescriptor { descriptor("moeen_webhooks_received_total", "Webhook requests whose signature was valid, by provider.") }
        static var webhooksRejected: MetricNameDescriptor { descriptor(
            "moeen_webhooks_rejected_total", "Webhook requests refused for a missing, wrong or stale signature or verify token, by provider.") }
        static var testDuration: MetricNameDescriptor { descriptor(
            "moeen_integration_test_duration_seconds", "Time of a test connection or test message, by integration type, test type and status.") }
        static var keyProviderCalls: MetricNameDescriptor { descriptor(
            "moeen_key_provider_calls_total", "Calls to the key provider (aws-kms, vault), by provider, operation and outcome.") }
        static var keyProviderDuration: MetricNameDescriptor { descriptor(
            "moeen_key_provider_call_duration_seconds", "Time of a call to the key provider, by provider and operation.") }

        static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
    }

    // MARK: - Recording

    /// One answered HTTP request. `route` is the matched route's template (`/api/messages/:id`) or `unmatched`.
    func httpRequest(route: String, method: String, status: UInt, duration: Duration) {
        registry.makeCounter(descriptor: Name.httpRequests, labels: [("route", route), ("method", method), ("status", String(status))])
            .increment()
        registry.makeDurationHistogram(descriptor: Name.httpDuration, labels: [("route", route), ("method", method)],
                                       buckets: Self.durationBuckets)
            .record(duration)
    }

    /// One message handed to a provider: `outcome` is `sent` or the provider error's category.
    func dispatchAttempt(channel: String, outcome: String, duration: Duration) {
        let labels = [("channel", channel), ("outcome", outcome)]
        registry.makeCounter(descriptor: Name.dispatchAttempts, labels: labels).increment()
        registry.makeDurationHistogram(descriptor: Name.dispatchDuration, labels: labels, buckets: Self.durationBuckets)
            .record(duration)
    }

    func webhookReceived(provider: String) {
        registry.makeCounter(descriptor: Name.webhooksReceived, labels: [("provider", provider)]).increment()
    }

    func webhookRejected(provider: String) {
        registry.makeCounter(descriptor: Name.webhooksRejected, labels: [("provider", provider)]).increment()
    }

    /// One test connection (or test message, or scheduled check): `testType` and `status` as the test log has them.
    func integrationTest(type: String, testType: String, status: String, durationMs: Int) {
        registry.makeDurationHistogram(
            descriptor: Name.testDuration, labels: [("type", type), ("test_type", testType), ("status", status)],
            buckets: Self.durationBuckets
        )
        .record(.milliseconds(max(0, durationMs)))
    }

    /// One call to the key provider; `outcome` is `success` or `failure`.
    func keyProviderCall(provider: String, operation: String, outcome: String, duration: Duration) {
        registry.makeCounter(descriptor: Name.keyProviderCalls, labels: [("provider", provider), ("operation", operation), ("outcome", outcome)])
            .increment()
        registry.makeDurationHistogram(descriptor: Name.keyProviderDuration, labels: [("provider", provider), ("operation", operation)],
                                       buckets: Self.durationBuckets)
            .record(duration)
    }

    /// The label value of a provider error category: `rate_limited`, `bad_request`, `invalid_response`…
    static func snakeCase(_ value: String) -> String {
        var result = ""
        for character in value {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}

extension Application {
    private struct MetricsKey: StorageKey {
        typealias Value = MoeenMetrics
    }

    /// This application's metrics; `configure` makes them before anything records.
    public var metrics: MoeenMetrics {
        get {
            if let metrics = storage[MetricsKey.self] { return metrics }
            let metrics = MoeenMetrics()
            storage[MetricsKey.self] = metrics
            return metrics
        }
        set { storage[MetricsKey.self] = newValue }
    }
}

extension Request {
    var metrics: MoeenMetrics { application.metrics }
}
