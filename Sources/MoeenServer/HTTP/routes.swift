import Vapor

/// Every route of the service; each controller lists its own.
func routes(_ app: Application) throws {
    try app.register(collection: HealthController())
    try app.register(collection: MetricsController())
    try app.register(collection: OpenAPIController())
    // A known path asked with a method it does not have: 405 with `Allow`, not the router's 404.
    app.middleware.use(MethodNotAllowedMiddleware())
    // U+0000 in an id, a query value or an /api JSON body: 404 or 422 before any handler (PostgreSQL text cannot hold it).
    app.middleware.use(NULCharacterGuard())
    // Webhooks: no session, no token; the provider's signature is the credential.
    try app.register(collection: WebhookController())
    try registerAdminPages(app)

    // The API accepts a bearer token, or the admin pages' session cookie plus X-CSRF-Token on unsafe methods.
    let tokens = TokenLookupCache()
    app.tokenLookupCache = tokens
    let api = app.grouped("api").grouped(BearerTokenAuthenticator(cache: tokens), SessionCookieAuthenticator(), CSRFProtection(page: false))
    try api.register(collection: IntegrationsController())
    try api.register(collection: RecordsController())
    try api.register(collection: PatientMessagesController())
    try api.register(collection: MessagesController())
    try api.register(collection: OptOutsController())
    try api.register(collection: DeliverySettingsController())
    try api.register(collection: WebhookEventsController())
    try api.register(collection: AlertsController())
}
