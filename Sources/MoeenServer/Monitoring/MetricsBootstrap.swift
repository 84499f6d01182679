import Metrics
import Prometheus
import Vapor

extension Application {
    /// For the executable only (once per process): swift-metrics' process-wide system records into this
    /// application's registry too, so a library that reports through swift-metrics shows up on `/metrics`.
    /// The service's own series never depend on it: they are made from `metrics.registry` directly.
    public func bootstrapProcessMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
    }
}
