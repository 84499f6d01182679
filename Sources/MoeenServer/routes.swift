import Vapor

/// Every route of the service; each controller lists its own.
func routes(_ app: Application) throws {
    try app.register(collection: HealthController())
    try app.register(collection: SetupController())

    let api = app.grouped("api").grouped(BearerTokenAuthenticator())
    try api.register(collection: IntegrationsController())
    try api.register(collection: CRMLeadsController())
}
