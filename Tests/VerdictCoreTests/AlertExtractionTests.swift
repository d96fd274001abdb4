import Foundation
import Testing
import VerdictCore

/// Real alert shapes from public Wazuh material (each line of Fixtures/wazuh-alerts.jsonl names its source).
struct AlertSample: CustomTestStringConvertible, Sendable {
    let source: String
    let alert: JSONValue
    let indicators: Set<[String]>
    let suppressed: Set<[String]>

    var testDescription: String { String(source.prefix(80)) }

    static let all: [AlertSample] = {
        guard let data = try? TestFiles.fixture("wazuh-alerts.jsonl") else { return [] }
        return TestFiles.lines(data).compactMap { line in
            guard let document = try? JSONValue(parsing: String(line)), let alert = document["alert"] else {
                return nil
            }
            func rows(_ key: String) -> Set<[String]> {
                guard case .array(let rows)? = document[key] else { return [] }
                return Set(
                    rows.map { row in
                        guard case .array(let cells) = row else { return [] }
                        return cells.compactMap(\.scalarText)
                    }
                )
            }
            return AlertSample(
                source: document["source"]?.scalarText ?? "?",
                alert: alert,
                indicators: rows("indicators"),
                suppressed: rows("suppressed")
            )
        }
    }()
}

struct AlertExtractionTests {
    @Test func samplesAreRead() {
        #expect(AlertSample.all.count == 10)
    }

    @Test(arguments: AlertSample.all)
    func sample(_ sample: AlertSample) {
        let result = IndicatorExtractor(maxPerType: 20).extract(alert: sample.alert)
        let indicators = Set(
            result.indicators.map { [$0.indicator.type.rawValue, $0.indicator.value, $0.field ?? ""] }
        )
        let suppressed = Set(
            result.suppressed.map { [$0.indicator.type.rawValue, $0.indicator.value, $0.field ?? "", $0.reason] }
        )
        #expect(indicators == sample.indicators)
        #expect(suppressed == sample.suppressed)
    }

    @Test func knownFieldsComeBeforeFullLogAndKeepTheirPath() throws {
        let line = #"{"full_log":"Accepted from 45.1.2.3 and 45.9.9.9","data":{"srcip":"45.1.2.3"}}"#
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(result.indicators.map(\.field) == ["data.srcip", "full_log"])
        #expect(result.indicators.map(\.indicator.value) == ["45.1.2.3", "45.9.9.9"])
    }

    @Test func theAlertsOwnAgentAndManagerAreNotIndicators() throws {
        let line = #"""
            {"agent":{"name":"web01.shop-example.com","ip":"45.77.1.1"},"manager":{"name":"wazuh.shop-example.com"},
             "full_log":"web01.shop-example.com sshd: from 45.77.1.1 via wazuh.shop-example.com to evil-example.com"}
            """#
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(result.indicators.map(\.indicator.value) == ["evil-example.com"])
        // Seen, so reported: nothing extraction leaves out goes unsaid.
        #expect(
            result.suppressed.map { [$0.indicator.value, $0.reason] } == [
                ["web01.shop-example.com", "own-host"], ["45.77.1.1", "own-host"],
                ["wazuh.shop-example.com", "own-host"],
            ]
        )
        let privateAgent = #"{"agent":{"ip":"10.0.0.5"},"full_log":"sshd on 10.0.0.5: from 45.77.1.2"}"#
        let fromPrivate = try IndicatorExtractor().extract(alertLine: Array(privateAgent.utf8))
        #expect(fromPrivate.suppressed.map(\.reason) == ["private"])
    }

    @Test func eachTypeIsCappedAndTheDropIsCounted() throws {
        let addresses = (1...30).map { "45.1.1.\($0)" }.joined(separator: " ")
        let line = #"{"full_log":"\#(addresses) 10.0.0.1 10.0.0.2 10.0.0.3"}"#
        let result = try IndicatorExtractor(maxPerType: 20).extract(alertLine: Array(line.utf8))
        #expect(result.indicators.count == 20)
        #expect(result.suppressed.count == 3)
        #expect(result.dropped[.ipv4] == 10)
        #expect(result.jsonLine().hasSuffix(#""dropped":{"ipv4":10}}"#))
    }

    @Test func hashListSkipsTheImportHash() throws {
        let line = #"""
            {"data":{"win":{"eventdata":{"hashes":"MD5=0639B0A6F69B3265C1E42227D650B7D1,IMPHASH=0F71D5F6F4CBB935CE1B09754102419C"}}}}
            """#
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(
            result.indicators.map(\.indicator) == [Indicator(type: .md5, value: "0639b0a6f69b3265c1e42227d650b7d1")]
        )
    }

    @Test func addressFieldsWithPortsAndArraysAreRead() throws {
        let line = #"{"data":{"srcip":"45.1.2.3:8080"},"related":{"ip":["45.4.5.6","2a0b:4140::1"]}}"#
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(result.indicators.map(\.indicator.value) == ["45.1.2.3", "45.4.5.6", "2a0b:4140::1"])
        #expect(result.indicators.map(\.field) == ["data.srcip", "related.ip", "related.ip"])
    }

    @Test func hostnameFieldsTrustTheirValue() throws {
        // In a hostname field, a name that looks like a file in free text is still the host that was asked for.
        let line = #"{"data":{"win":{"eventdata":{"queryName":"setup.py"}}},"full_log":"ran setup.py"}"#
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(result.indicators.map(\.indicator) == [Indicator(type: .domain, value: "setup.py")])
    }

    @Test(arguments: [
        ("not json", "unexpected text where a JSON value should start at byte 1"),
        ("[1,2]", "an alert must be a JSON object at byte 1"),
        (#"{"a":1"#, "unterminated object at byte 7"),
        ("{\"a\":\"\u{01}\"}", "control character inside a string at byte 7"),
    ])
    func malformedLinesGiveAnErrorObject(line: String, message: String) {
        let output = IndicatorExtractor().outputLine(forAlertLine: ArraySlice(line.utf8), number: 7)
        #expect(output == #"{"error":"line 7 is not a JSON alert: \#(message)","line":7}"#)
    }

    @Test func blankLinesGiveNothing() {
        #expect(IndicatorExtractor().outputLine(forAlertLine: ArraySlice("  \t".utf8), number: 1) == nil)
    }

    @Test func lineSplitterHandlesChunksCRLFAndAMissingFinalNewline() {
        var splitter = LineSplitter()
        var lines: [String] = []
        for chunk in ["{\"a\":", "1}\r\n{\"b\"", ":2}\n\n{\"c\":3}"] {
            lines += splitter.push(Array(chunk.utf8)).map {
                "\($0.number):" + String(decoding: $0.bytes, as: UTF8.self)
            }
        }
        if let last = splitter.finish() {
            lines.append("\(last.number):" + String(decoding: last.bytes, as: UTF8.self))
        }
        #expect(lines == [#"1:{"a":1}"#, #"2:{"b":2}"#, "3:", #"4:{"c":3}"#])
    }
}
