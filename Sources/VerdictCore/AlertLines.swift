/// Splits NDJSON input into lines as it arrives, so alert files of any size are read in bounded memory.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    /// The 1-based number of the next line handed out.
    public private(set) var nextLineNumber = 1

    public init() {}

    /// Appends a chunk and returns the complete lines in it (without `\n` or `\r\n`), numbered.
    public mutating func push(_ chunk: some Collection<UInt8>) -> [(number: Int, bytes: ArraySlice<UInt8>)] {
        pending.append(contentsOf: chunk)
        var lines: [(number: Int, bytes: ArraySlice<UInt8>)] = []
        var start = 0
        let all = pending
        for index in all.indices where all[index] == 0x0A {
            lines.append((nextLineNumber, trimCarriageReturn(all[start..<index])))
            nextLineNumber += 1
            start = index + 1
        }
        pending = Array(all[start...])
        return lines
    }

    /// The last line when the input does not end in a newline.
    public mutating func finish() -> (number: Int, bytes: ArraySlice<UInt8>)? {
        guard !pending.isEmpty else { return nil }
        defer {
            pending = []
            nextLineNumber += 1
        }
        return (nextLineNumber, trimCarriageReturn(ArraySlice(pending)))
    }

    private func trimCarriageReturn(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == 0x0D ? line.dropLast() : line
    }
}

extension IndicatorExtractor {
    /// The `verdict extract --alerts` output for one input line: the extraction object, an error object
    /// (`{"error": "…", "line": N}`) for a line that is not an alert, or nil for a blank line.
    public func outputLine(forAlertLine bytes: ArraySlice<UInt8>, number: Int) -> String? {
        guard bytes.contains(where: { $0 > 0x20 }) else { return nil }
        do {
            return try extract(alertLine: bytes).jsonLine()
        } catch {
            var writer = JSONWriter()
            writer.raw("{\"error\":")
            writer.string("line \(number) is not a JSON alert: \(error)")
            writer.raw(",\"line\":\(number)}")
            return writer.text
        }
    }
}
