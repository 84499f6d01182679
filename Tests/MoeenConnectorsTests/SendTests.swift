import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

@Suite("Sends and error mapping over HTTP")
struct SendTests {
    @Test("WhatsApp text and template sends return the wamid")
    func whatsapp() async throws {
        try await withStandIn(WhatsAppStandIn()) { standIn, settings in
            let connector = makeRegistry().whatsapp
            let text = try await connector.send(ChannelMessage(to: "+966501234567", text: "مرحبا"), config: settings,
                                                timeout: .seconds(60))
            #expect(text.providerMessageId?.hasPrefix("wamid.") == true)
            let template = try await connector.sendTemplate(
                to: "+966501234567", template: WhatsAppTemplate(name: "appointment_reminder", language: "ar",
                                                                parameters: ["Amal", "10:00"]),
                config: settings, timeout: .seconds(60))
            #expect(template.providerMessageId != text.providerMessageId)
            let sent = await standIn.state.sent
            #expect(sent.count == 2)
            #expect(sent[0].body["to"] == "966501234567")
            #expect(sent[0].body["text"]?["body"] == "مرحبا")
            #expect(sent[1].body["template"]?["language"]?["code"] == "ar")
            let recorded = try exchangesText(text.exchanges)
            #expect(!recorded.contains("966501234567"), "the recipient is masked")
        }
    }

    @Test("WhatsApp undeliverable is permanent; rate limit is retryable with Retry-After")
    func whatsappErrors() async throws {
        try await withStandIn(WhatsAppStandIn()) { standIn, settings in
            let connector = makeRegistry().whatsapp
            await standIn.state.update { $0.undeliverable = ["966500000000"] }
            let undeliverable = await #expect(throws: ProviderError.self) {
                try await connector.sendText(to: "+966500000000", body: "x", config: settings, timeout: .seconds(60))
            }
            #expect(undeliverable?.code == "131026")
            #expect(undeliverable?.category == .recipient)
            #expect(undeliverable?.kind == .permanent)

            await standIn.faults.set(FaultPlan(rateLimitRetryAfter: 7))
            let limited = await #expect(throws: ProviderError.self) {
                try await connector.sendText(to: "+966501234567", body: "x", config: settings, timeout: .seconds(60))
            }
            #expect(limited?.code == "130429")
            #expect(limited?.kind == .retryable)
            #expect(limited?.retryAfter == .seconds(7))
        }
    }

    @Test("Twilio SMS is form-encoded and returns the SM sid; a bad number is permanent 21211")
    func twilio() async throws {
        try await withStandIn(TwilioStandIn()) { standIn, settings in
            let connector = makeRegistry().sms
            let receipt = try await connector.send(ChannelMessage(to: "+966501234567", text: "موعدك غدا"),
                                                   config: settings, timeout: .seconds(60))
            #expect(receipt.providerMessageId?.hasPrefix("SM") == true)
            #expect(receipt.statusCode == 201)
            let request = try #require(await standIn.recorder.requests(pathSuffix: "/Messages.json").first)
            #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
            #expect(await standIn.state.sent.first?.form == ["To": "+966501234567", "From": "+15550000002", "Body": "موعدك غدا"])

            let error = await #expect(throws: ProviderError.self) {
                try await connector.send(ChannelMessage(to: "12", text: "x"), config: settings, timeout: .seconds(60))
            }
            #expect(error?.code == "21211")
            #expect(error?.category == .recipient)
            #expect(error?.kind == .permanent)
        }
    }

    @Test("SendGrid mail returns X-Message-Id; 429 is retryable with a retry-after")
    func sendGrid() async throws {
        try await withStandIn(SendGridStandIn()) { standIn, settings in
            let connector = makeRegistry().email
            let receipt = try await connector.send(
                ChannelMessage(to: "amal@example.org", text: "Hello", subject: "Appointment"), config: settings,
                timeout: .seconds(60))
            #expect(receipt.statusCode == 202)
            #expect(receipt.providerMessageId == (await standIn.state.sent.first?.id))

            await standIn.faults.set(FaultPlan(rateLimitRetryAfter: 30))
            let error = await #expect(throws: ProviderError.self) {
                try await connector.send(ChannelMessage(to: "amal@example.org", text: "Hello"), config: settings,
                                         timeout: .seconds(60))
            }
            #expect(error?.kind == .retryable)
            #expect(error?.category == .rateLimited)
            #expect(error?.retryAfter == .seconds(30))
            #expect(error?.message == "too many requests")
        }
    }

    @Test("Slack posts return ok; an archived channel is permanent; a 5xx is retryable")
    func slack() async throws {
        try await withStandIn(SlackStandIn()) { standIn, settings in
            let connector = makeRegistry().slack
            let receipt = try await connector.send(ChannelMessage(to: "", text: "New booking"), config: settings,
                                                   timeout: .seconds(60))
            #expect(receipt.statusCode == 200)
            #expect(await standIn.state.posts.first?["text"] == "New booking")

            await standIn.state.update { $0.archived = true }
            let archived = await #expect(throws: ProviderError.self) {
                try await connector.send(ChannelMessage(to: "", text: "x"), config: settings, timeout: .seconds(60))
            }
            #expect(archived?.message == "channel_is_archived")
            #expect(archived?.kind == .permanent)

            await standIn.faults.set(FaultPlan(errorRate: 1))
            let failing = await #expect(throws: ProviderError.self) {
                try await connector.send(ChannelMessage(to: "", text: "x"), config: settings, timeout: .seconds(60))
            }
            #expect(failing?.kind == .retryable)
            #expect(failing?.message == "rollup_error")
        }
    }

    @Test("Google Calendar events: create, update, delete")
    func googleEvents() async throws {
        try await withStandIn(GoogleCalendarStandIn()) { standIn, settings in
            let connector = makeRegistry().googleCalendar
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let event = CalendarEvent(summary: "Session", start: start, end: start.addingTimeInterval(3600),
                                      timeZone: "Asia/Riyadh")
            let created = try await connector.createEvent(event, config: settings, timeout: .seconds(60))
            let id = try #require(created.providerMessageId)
            var changed = event
            changed.summary = "Session (moved)"
            let updated = try await connector.updateEvent(id: id, changed, config: settings, timeout: .seconds(60))
            #expect(updated.providerMessageId == id)
            #expect(await standIn.state.events[id]?["summary"] == "Session (moved)")
            _ = try await connector.deleteEvent(id: id, config: settings, timeout: .seconds(60))
            #expect(await standIn.state.events[id] == nil)

            await standIn.state.update { $0.accessRole = "reader" }
            let error = await #expect(throws: ProviderError.self) {
                try await connector.createEvent(event, config: settings, timeout: .seconds(60))
            }
            #expect(error?.category == .forbidden)
            #expect(error?.httpStatus == 403)
        }
    }
}
