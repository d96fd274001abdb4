import Testing
import VerdictCore

struct JSONValueTests {
    @Test func keepsOrderDuplicatesAndNumberText() throws {
        let value = try JSONValue(parsing: #"{"b":1.50,"a":[true,false,null],"b":2,"e":-1e+3}"#)
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "b", "e"])
        #expect(value["b"] == .number("1.50"))  // the first wins, as in Wazuh
        #expect(value["e"]?.scalarText == "-1e+3")
        #expect(value["a"] == .array([.bool(true), .bool(false), .null]))
    }

    @Test func decodesEscapesAndSurrogates() throws {
        let value = try JSONValue(parsing: #"["a\"b\\c\/d\n\t", "\u00e9\u20ac", "\ud83d\ude00", "\ud83d x", "\ude00"]"#)
        #expect(
            value
                == .array([
                    .string("a\"b\\c/d\n\t"), .string("é€"), .string("😀"), .string("\u{FFFD} x"), .string("\u{FFFD}"),
                ])
        )
    }

    @Test func invalidUTF8BecomesReplacementCharacters() throws {
        let bytes: [UInt8] = Array(#"{"full_log":"a"#.utf8) + [0xFF, 0xC3] + Array(#"b"}"#.utf8)
        let value = try JSONValue(parsing: bytes)
        #expect(value["full_log"] == .string("a\u{FFFD}\u{FFFD}b"))
    }

    @Test(arguments: [
        ("", "empty input: expected a JSON value at byte 1"),
        ("{\"a\":1} x", "unexpected text after the JSON value at byte 9"),
        ("[1,]", "unexpected character ']' at byte 4"),
        ("01", "invalid number: leading zeros are not allowed at byte 2"),
        ("1.", "invalid number: no digits after '.' at byte 3"), ("\"\\q\"", "invalid escape sequence at byte 4"),
        ("\"\\u12\"", "truncated \\u escape at byte 4"), ("\"\\u12zz\"", "invalid \\u escape at byte 6"),
        ("{\"a\" 1}", "expected ':' after a key at byte 6"),
        ("{1:2}", "expected a quoted key in an object at byte 2"), ("\"abc", "unterminated string at byte 5"),
    ])
    func errorsSayWhatAndWhere(text: String, message: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            String(describing: error) == message
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let original = JSONValue.object([
            ("text", .string("quote \" backslash \\ newline \n tab \t bell \u{07} é")), ("n", .number("12")),
            ("list", .array([.null, .bool(true)])),
        ])
        var writer = JSONWriter()
        writer.value(original)
        #expect(writer.text.contains(#"\u0007"#))
        #expect(try JSONValue(parsing: writer.text) == original)
    }
}
