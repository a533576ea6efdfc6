import Testing
@testable import SwiftletAPI

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("{}", JSONValue.object([])),
        ("[]", .array([])),
        (" {\"a\" : [1, -2.5e3, true, false, null]} ", .object([("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))])),
        ("\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"", .string("a\"b\\c\né😀")),
        ("0", .number("0")),
        ("{\"x\":{\"y\":\"z\"}}", .object([("x", .object([("y", .string("z"))]))])),
    ])
    func parsesValidJSON(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test(arguments: [
        ("", "ends"), ("{", "quoted field name"), ("{\"a\":1,}", "quoted field name"), ("[1,]", "unexpected character"),
        ("{\"a\":1 \"b\":2}", "expected ','"), ("01", "after the JSON value"), ("1.", "fraction"), ("1e", "exponent"),
        ("-", "digit"), ("tru", "expected true"), ("\"abc", "not closed"), ("\"a\u{01}\"", "control character"),
        ("\"\\x\"", "unknown escape"), ("\"\\ud800\"", "surrogate"), ("\"\\u12\"", "four hex"),
        ("{\"a\":1,\"a\":2}", "appears twice"), ("{} {}", "after the JSON value"), ("'a'", "unexpected character"),
        (String(repeating: "[", count: 40) + String(repeating: "]", count: 40), "nested deeper"),
    ])
    func refusesInvalidJSON(text: String, mentioned: String) {
        do {
            let value = try JSONParser.parse(text)
            Issue.record("parsed \(text) as \(value)")
        } catch {
            #expect(error.description.contains(mentioned), "\(text): \(error.description)")
        }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func textRoundTrips() throws {
        let value = JSONValue.object([("a", .string("q\"\\\n\u{01}é")), ("b", .array([.integer(5), .null, .bool(true)]))])
        #expect(value.text == #"{"a":"q\"\\\n\u0001é","b":[5,null,true]}"#)
        #expect(try JSONParser.parse(value.text) == value)
    }
}
