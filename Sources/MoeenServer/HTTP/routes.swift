import Vapor

/// Every route of the service; each controller lists its own.
func routes(_ app: Application) throws {
    try app.register(collection: HealthController())
    // Webhooks: no session, no token; the provider's signature is the credential.
    try app.register(collection: WebhookController())
    try registerAdminPages(app)

    // The API accepts a bearer token, or the admin pages' session cookie plus X-CSRF-Token on unsafe methods.
    let tokens = TokenLookupCache()
    app.tokenLookupCache = tokens
    let api = app.grouped("api").grouped(BearerTokenAuthenticator(cache: tokens), SessionCookieAuthenticator(), CSRFProtection(page: false))
    try api.register(collection: IntegrationsController())
    try api.register(collection: CRMLeadsController())
    try api.register(collection: MessagesController())
    try api.register(collection: OptOutsController())
    try api.register(collection: DeliverySettingsController())
    try api.register(collection: WebhookEventsController())
}
