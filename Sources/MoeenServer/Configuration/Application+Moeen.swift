import Vapor

extension Application {
    private struct ConfigurationKey: StorageKey {
        typealias Value = MoeenConfiguration
    }

    /// The configuration read at boot; set by `configure`.
    public var moeenConfiguration: MoeenConfiguration {
        get {
            // `configure` always stores it before anything reads it; the default only serves bare test apps.
            storage[ConfigurationKey.self] ?? MoeenConfiguration()
        }
        set { storage[ConfigurationKey.self] = newValue }
    }
}

extension Request {
    var moeenConfiguration: MoeenConfiguration { application.moeenConfiguration }
}
