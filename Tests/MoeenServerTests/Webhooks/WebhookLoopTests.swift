import Foundation
import MoeenCore
@testable import MoeenServer
import NIOPosix
import ProviderStandIns
import Testing
import Vapor

/// The whole loop over real HTTP: the service listens on a loopback port, the stand-ins accept sends and post
/// their own signed status webhooks back to it.
@Suite("Webhooks, the full loop")
struct WebhookLoopTests {
    /// A loopback port the kernel reports free.
    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        return port
    }

    @Test("send → sent → the stand-in's signed status webhook → delivered → read, for SMS and WhatsApp")
    func fullLoop() async throws {
        let port = try Self.freePort()
        let base = "http://127.0.0.1:\(port)"
        try await withSMSFixture(customize: { $0.publicURL = base }) { fx in
            try await fx.app.server.start(address: .hostname("127.0.0.1", port: port))
            do {
                try await Self.loop(fx, base: base)
                await fx.app.server.shutdown()
            } catch {
                await fx.app.server.shutdown()
                throw error
            }
        }
    }

    static func loop(_ fx: SMSFixture, base: String) async throws {
        do {
            let sms = try #require(try await fx.app.sendMessage(["channel": "sms", "to": "0551234567", "text": "loop"], auth: fx.admin).json["public_id"] as? String)
            try await fx.app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
            #expect(try await fx.app.message(sms).status == "sent")
            let sid = try #require(try await fx.app.message(sms).providerMessageID)
            #expect(try await fx.twilio.postStatus("delivered", for: sid) == 200)
            try await fx.app.processWebhooks()
            #expect(try await fx.app.message(sms).status == "delivered")

            try await withStandIn(.whatsapp) { standIn, settings in
                let whatsapp = try #require(standIn as? WhatsAppStandIn)
                var settings = settings
                settings["app_secret"] = "loop-app-secret"
                let integration = try await fx.app.makeIntegration(.whatsapp, settings: settings, auth: fx.admin)
                let message = try #require(try await fx.app.sendMessage(["channel": "whatsapp", "to": "0551234567", "text": "loop"], auth: fx.admin).json["public_id"] as? String)
                try await fx.app.testDispatcher(clock: ManualClock(Date().addingTimeInterval(5))).drainOnce()
                let wamid = try #require(try await fx.app.message(message).providerMessageID)
                let url = "\(base)/webhooks/whatsapp/\(integration)"
                #expect(try await whatsapp.postStatus("delivered", for: wamid, to: url, appSecret: "loop-app-secret") == 200)
                #expect(try await whatsapp.postStatus("read", for: wamid, to: url, appSecret: "loop-app-secret", at: Date().addingTimeInterval(1)) == 200)
                #expect(try await whatsapp.postStatus("read", for: wamid, to: url, appSecret: "not-the-secret") == 401)
                try await fx.app.processWebhooks()
                #expect(try await fx.app.message(message).status == "read")
            }
        }
    }
}
