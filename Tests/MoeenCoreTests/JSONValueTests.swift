import Foundation
import MoeenCore
import Testing

/// `JSONValue.parse` takes every valid JSON document: numbers outside `Decimal`'s range included (a body with
/// one must not be answered "not valid JSON").
@Suite("JSONValue")
struct JSONValueTests {
    @Test("numbers beyond Decimal's exponent range parse and encode back as numbers",
          arguments: ["1.648348090765409e-175", "1e300", "-2.5e-200"])
    func hugeAndTinyNumbers(text: String) throws {
        let parsed = try #require(JSONValue.parse(Array(#"{"value": \#(text), "name": "x"}"#.utf8)))
        guard case .number(let kept)? = parsed["value"] else {
            Issue.record("\(text) did not parse as a number: \(parsed)")
            return
        }
        #expect(Double(kept) == Double(text))
        let again = try #require(JSONValue.parse(Array(parsed.jsonText().utf8)))
        #expect(again == parsed)
    }

    @Test("ordinary numbers keep their decimal text")
    func ordinaryNumbers() throws {
        #expect(JSONValue.parse(Array("12.50".utf8)) == .number("12.5"))
        #expect(JSONValue.parse(Array("[1, 2]".utf8)) == .array([.number("1"), .number("2")]))
    }
}
