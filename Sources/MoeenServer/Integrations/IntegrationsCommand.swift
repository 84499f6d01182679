import Fluent
import MoeenCore
import Vapor

/// `moeen integrations list` and `moeen integrations test ID`.
struct IntegrationsCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] {
        ["list": ListIntegrationsCommand(), "test": TestIntegrationCommand()]
    }

    var help: String { "List integrations and test their connections." }
}

struct ListIntegrationsCommand: AsyncCommand {
    struct Signature: CommandSignature {}

    var help: String { "Prints a table of the integrations with their health." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let rows = try await IntegrationConfig.query(on: context.application.db)
            .sort(\.$integrationType).sort(\.$name).all()
        let header = ["PUBLIC ID", "TYPE", "NAME", "ENABLED", "STATUS", "HEALTH", "LAST TEST"]
        let table = rows.map { row in
            [
                row.publicID, row.integrationType, row.name, row.isEnabled ? "yes" : "no", row.status,
                "\(row.healthScore)", row.lastTestAt.map { "\($0.formatted(.iso8601)) \(row.lastTestStatus ?? "")" } ?? "never",
            ]
        }
        for line in TextTable.render(header: header, rows: table) { context.console.print(line) }
    }
}

struct TestIntegrationCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "id", help: "The integration's UUID or public id.")
        var id: String
        @Option(name: "test-type", help: "connection (default) or send_message.")
        var testType: String?
        @Option(name: "to", help: "The test message's recipient (send_message).")
        var recipient: String?
    }

    var help: String { "Runs a test exactly as the API does, logs it and prints the result." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let row = try await IntegrationConfig.find(idOrPublicID: signature.id, on: app.db)
        guard let type = IntegrationType(rawValue: row.integrationType) else { throw CommandFailure("unknown type \(row.integrationType)") }
        // The same tester as the API's, with no user: the log row records none.
        let result: TestResultDTO
        do {
            result = try await IntegrationTester(app: app).run(
                IntegrationTestRequest(integration: row, type: type, config: nil, testType: signature.testType ?? "connection", recipient: signature.recipient),
                by: nil
            )
        } catch let error as APIError {
            let fields = (error.fields ?? [:]).map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
            throw CommandFailure(fields.isEmpty ? error.message : "\(error.message) (\(fields))")
        }
        context.console.print("\(row.publicID) \(row.integrationType): \(result.status) in \(result.durationMs) ms")
        context.console.print("message: \(result.message)")
        if let code = result.statusCode { context.console.print("provider status: \(code)") }
        if case .object(let details) = result.details, !details.isEmpty {
            for (key, value) in details.sorted(by: { $0.key < $1.key }) {
                context.console.print("\(key): \(value.plainText ?? value.jsonText())")
            }
        }
        if let score = result.healthScore { context.console.print("health score: \(score)") }
        if !result.success { throw CommandFailure("the test \(result.status == "timeout" ? "timed out" : "failed"): \(result.message)") }
    }
}

/// Fixed-width text tables for the command line.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return [line(header)] + rows.map(line)
    }
}
