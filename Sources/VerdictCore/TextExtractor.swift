/// Finds indicators in free text: log lines, alert fields, threat reports.
///
/// One left-to-right pass over the refanged bytes, with no regular expressions and no backtracking, so the
/// time is linear in the input whatever it holds. Candidates that look like indicators but are not (file
/// names, dotted code, version strings, clock times, MAC addresses, antivirus family names) are rejected
/// unless someone defanged them on purpose.
public struct TextExtractor: Sendable {
    /// Top-level labels to accept besides the public suffix list (the user's internal suffixes), so that
    /// names under them are found and can be suppressed.
    public var extraTopLevelDomains: Set<String>

    public init(extraTopLevelDomains: Set<String> = []) {
        self.extraTopLevelDomains = extraTopLevelDomains
    }

    /// The distinct indicators in `text`, in order of first appearance.
    public func indicators(in text: String) -> [Indicator] {
        scan(Array(text.utf8)).indicators
    }

    /// The distinct indicators in UTF-8 `bytes`, in order of first appearance.
    public func indicators(in bytes: [UInt8]) -> [Indicator] {
        scan(bytes).indicators
    }

    /// The distinct indicators in UTF-8 `bytes`, with the host each URL and email names.
    func scan(_ bytes: [UInt8]) -> FoundIndicators {
        let refanged = RefangedText(refanging: bytes)
        // The scanner reads the bytes through buffer pointers, valid for the scan only: slices of an array would
        // retain and release its storage on every candidate.
        return refanged.bytes.withUnsafeBufferPointer { text in
            var scanner = TextScanner(text: text, marks: refanged, extraTopLevelDomains: extraTopLevelDomains)
            scanner.run()
            return scanner.found
        }
    }
}

/// Indicators, each once, in order of first appearance, with the host each URL and email names: the suppressor
/// judges those by their host, which the scanner has already parsed.
struct FoundIndicators {
    private(set) var indicators: [Indicator] = []
    /// Per indicator, the index in `indicators` of its host, or -1 when it has none.
    private(set) var hostIndices: [Int32] = []
    /// Per indicator, its hash, so that neither a probe nor growing the table hashes a value again.
    private var hashes: [Int] = []
    /// Open addressing over `indicators` (linear probing): each slot holds an index + 1, or 0 when free.
    private var slots: [Int32]

    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [Int32](repeating: 0, count: capacity)
        indicators.reserveCapacity(expectedCount)
        hostIndices.reserveCapacity(expectedCount)
        hashes.reserveCapacity(expectedCount)
    }

    /// Calls `body` with each indicator, in order, and its host when it is a URL or an email.
    func forEachWithHost(_ body: (_ indicator: Indicator, _ host: Indicator?) -> Void) {
        for (indicator, host) in zip(indicators, hostIndices) {
            body(indicator, host < 0 ? nil : indicators[Int(host)])
        }
    }

    /// Adds `indicator` unless it is here already; its index either way.
    mutating func insert(_ indicator: Indicator) -> (index: Int, inserted: Bool) {
        // Hasher is seeded per process: text an attacker writes cannot be made to collide.
        var hasher = Hasher()
        hasher.combine(UInt8(indicator.type.ordinal))
        var value = indicator.value
        value.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        let hash = hasher.finalize()
        let mask = slots.count - 1
        var slot = hash & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot]) - 1
            if hashes[index] == hash, indicators[index] == indicator { return (index, false) }
            slot = (slot + 1) & mask
        }
        indicators.append(indicator)
        hostIndices.append(-1)
        hashes.append(hash)
        slots[slot] = Int32(indicators.count)
        if indicators.count * 2 > slots.count { grow() }
        return (indicators.count - 1, true)
    }

    /// Records that the indicator at `index` names the host at `hostIndex`.
    mutating func link(_ index: Int, toHostAt hostIndex: Int) {
        hostIndices[index] = Int32(hostIndex)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, hash) in hashes.enumerated() {
            var slot = hash & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
    }
}

/// One scan over refanged text. The buffers belong to the caller and outlive the scanner.
struct TextScanner {
    typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    let text: UnsafeBufferPointer<UInt8>
    /// The refanged text, for the marks of its defanged bytes.
    let marks: RefangedText
    let extraTopLevelDomains: Set<String>
    /// `wordBytes` as two 64-bit masks, held here: a static costs a lazy-initialisation check on every use in
    /// the hot loop, and an array a bounds check and a load.
    let wordByteMasks = TextScanner.wordByteMasks
    let wordByteClasses = TextScanner.wordByteClasses
    let isSchemeStart = TextScanner.schemeStarts
    let wordRoles = FalsePositiveNames.roles
    let longestRoleWord = FalsePositiveNames.longestWord
    var found: FoundIndicators
    /// IPv6 is not tried again inside a run that already failed, which keeps inputs like `a:a:a:a:…` linear.
    var noIPv6Before = 0

    init(
        text: UnsafeBufferPointer<UInt8>,
        marks: RefangedText,
        extraTopLevelDomains: Set<String>
    ) {
        self.text = text
        self.marks = marks
        self.extraTopLevelDomains = extraTopLevelDomains
        // IOC lists hold about one indicator per 40 bytes: sized for that, the table rarely grows.
        found = FoundIndicators(expectedCount: text.count / 32)
    }

    /// Adds the indicator unless it was found before; its index in `found` either way.
    @discardableResult
    mutating func emit(_ type: IndicatorType, _ value: String) -> (index: Int, inserted: Bool) {
        found.insert(Indicator(type: type, value: value))
    }

    /// Adds a URL or an email and the host it names.
    mutating func emit(_ type: IndicatorType, _ value: String, host: Indicator) {
        let (index, inserted) = emit(type, value)
        let hostIndex = found.insert(host).index
        if inserted { found.link(index, toHostAt: hostIndex) }
    }

    func byte(_ position: Int) -> UInt8? {
        position >= 0 && position < text.count ? text[position] : nil
    }

    mutating func run() {
        var index = 0
        let count = text.count
        while index < count {
            let current = text[index]
            // Spaces and punctuation start nothing (but `:` may start an IPv6 address): skip them at once.
            if current < 0x80, !isWordByte(current), current != UInt8(ascii: ":") {
                index += 1
                continue
            }
            let previous = byte(index - 1)
            let atBoundary = previous.map { !isASCIIAlphanumeric($0) && $0 < 0x80 } ?? true
            let (wordEnd, punctuation) = endOfWord(from: index)
            // A scheme and an IPv6 address's first group are words that a `:` ends (or, for `::1`, a `:` alone):
            // other words skip both parsers.
            if atBoundary, wordEnd < count, text[wordEnd] == UInt8(ascii: ":") {
                // Every scheme Verdict reads starts with `h`, `f` or `s` and has at most 6 letters.
                if wordEnd - index <= 6, isSchemeStart[Int(current)], let end = scanURL(from: index) {
                    index = end
                    continue
                }
                if wordEnd - index <= 4, index >= noIPv6Before, previous != UInt8(ascii: ":"),
                    previous != UInt8(ascii: "."), text[index..<wordEnd].allSatisfy({ hexValue($0) != nil }),
                    let end = scanIPv6(from: index)
                {
                    index = end
                    continue
                }
            }
            if wordEnd > index {
                // A word without a dot or `@` can only be a hash: most words of prose end here.
                if punctuation == 0 {
                    if let hashType = TextScanner.hashType(text[index..<wordEnd]) {
                        emit(hashType, lowercasedString(index, wordEnd))
                    }
                } else {
                    processWord(index, wordEnd)
                }
                index = wordEnd
            } else {
                index += max(1, scalarLength(at: index))
            }
        }
    }

    // MARK: Characters

    /// The UTF-8 length of the scalar starting at `position` (1 for ASCII and for stray bytes).
    func scalarLength(at position: Int) -> Int {
        let lead = text[position]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        guard lead >= 0xC2, position + length <= text.count else { return 1 }
        for offset in 1..<length where text[position + offset] & 0xC0 != 0x80 { return 1 }
        return length
    }

    /// Whether the non-ASCII scalar at `position` can stand inside a domain label (a letter, digit or mark).
    func isLabelScalar(at position: Int, length: Int) -> Bool {
        guard length > 1 else { return false }
        var value = UInt32(text[position] & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07))
        for offset in 1..<length { value = value << 6 | UInt32(text[position + offset] & 0x3F) }
        // Common non-letters answered without a Unicode property lookup: no-break space, general and CJK
        // punctuation, and U+FFFD, which stands for every invalid byte.
        if value == 0xA0 || value == 0xFFFD || (0x2000...0x206F).contains(value) || (0x3000...0x303F).contains(value) {
            return false
        }
        guard let scalar = Unicode.Scalar(value) else { return false }
        return DomainName.isLabelScalar(scalar)
    }

    /// ASCII bytes that can be part of a word: letters, digits and `.-_+%@`.
    static let wordBytes: [Bool] = (0..<128).map { byte in
        isASCIIAlphanumeric(UInt8(byte)) || ".-_+%@".utf8.contains(UInt8(byte))
    }

    static let wordByteMasks: (low: UInt64, high: UInt64) = wordBytes.enumerated().reduce((0, 0)) { masks, entry in
        guard entry.element else { return masks }
        return entry.offset < 64
            ? (masks.low | 1 << UInt64(entry.offset), masks.high)
            : (masks.low, masks.high | 1 << UInt64(entry.offset - 64))
    }

    /// Per ASCII byte: 0 when it ends a word, `wordClass` for a word byte, with `punctuationClass` added for the
    /// ones that make a word more than a hash (`.@+%-`). A pointer, not an array: `endOfWord` reads it for every
    /// byte of every word, and an array costs a bounds check there. Allocated once and never freed or written.
    nonisolated(unsafe) static let wordByteClasses: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
        for byte in 0..<128 {
            let isPunctuation = ".@+%-".utf8.contains(UInt8(byte))
            table[byte] = wordBytes[byte] ? wordClass | (isPunctuation ? punctuationClass : 0) : 0
        }
        return UnsafePointer(table)
    }()
    static let wordClass: UInt8 = 1
    static let punctuationClass: UInt8 = 2

    /// Whether the ASCII `byte` is in `wordBytes`.
    @inline(__always)
    func isWordByte(_ byte: UInt8) -> Bool {
        let mask = byte < 64 ? wordByteMasks.low : wordByteMasks.high
        return mask >> UInt64(byte & 63) & 1 != 0
    }

    /// First letters of `URLScheme`'s names, either case.
    static let schemeStarts: [Bool] = (0..<256).map { "hHfFsS".utf8.contains(UInt8($0)) }

    /// The end of the run of word characters (ASCII word bytes and non-ASCII letters) starting at `start`, and
    /// whether it holds a `.`, `@`, `+`, `%` or `-` (non-zero when it does: only then can it be more than a hash).
    func endOfWord(from start: Int) -> (end: Int, punctuation: UInt8) {
        var position = start
        var punctuation: UInt8 = 0
        while position < text.count {
            let current = text[position]
            if current < 0x80 {
                let byteClass = wordByteClasses[Int(current)]
                guard byteClass != 0 else { break }
                punctuation |= byteClass
                position += 1
            } else {
                let length = scalarLength(at: position)
                guard isLabelScalar(at: position, length: length) else { break }
                position += length
            }
        }
        return (position, punctuation & TextScanner.punctuationClass)
    }

    /// A candidate may be built on spelled-out defangs (` dot `) only together with a real defang or an `@`:
    /// otherwise `the dot com bubble` would give `the.com`.
    func isTrustworthy(_ start: Int, _ end: Int) -> Bool {
        let found = marks.marks(start, end)
        guard found.spelledOut, !found.defanged else { return true }
        return text[start..<end].contains(UInt8(ascii: "@"))
    }

    func isDefanged(_ start: Int, _ end: Int) -> Bool {
        marks.marks(start, end).defanged
    }

    func string(_ start: Int, _ end: Int) -> String {
        // Rebased, so the string is copied from contiguous memory (a slice of a buffer takes the slow path).
        String(decoding: UnsafeBufferPointer(rebasing: text[start..<end]), as: UTF8.self)
    }

    /// `string(start, end)` with ASCII letters lowered, built once (hashes and schemes are ASCII).
    func lowercasedString(_ start: Int, _ end: Int) -> String {
        // The closures here capture the buffer alone: capturing `self` would copy the whole scanner.
        let text = text
        return String(unsafeUninitializedCapacity: end - start) { buffer in
            for offset in 0..<(end - start) {
                let byte = text[start + offset]
                buffer[offset] = asciiLowercased(byte)
            }
            return end - start
        }
    }

    // MARK: URLs

    /// Parses a URL whose scheme starts at `start`; returns where it ends, or nil when there is no valid URL.
    mutating func scanURL(from start: Int) -> Int? {
        var position = start
        while position < text.count, position - start < 6, isASCIILetter(text[position]) { position += 1 }
        guard position + 3 <= text.count, text[position] == UInt8(ascii: ":"), text[position + 1] == UInt8(ascii: "/"),
            text[position + 2] == UInt8(ascii: "/")
        else { return nil }
        guard URLScheme(spelling: text[start..<position]) != nil else { return nil }
        let authorityStart = position + 3
        let quote = byte(start - 1).flatMap { $0 == UInt8(ascii: "'") ? $0 : nil }

        // The host is checked before the path is read, so a failed candidate costs only its authority and
        // inputs like `http://http://http://…` stay linear.
        var authorityEnd = authorityStart
        var inIPv6Literal = false
        while authorityEnd < text.count {
            let current = text[authorityEnd]
            if current <= 0x20 || current == 0x7F || isURLTerminator(current, quote: quote) { break }
            if current == UInt8(ascii: "/") || current == UInt8(ascii: "?") || current == UInt8(ascii: "#") { break }
            if current == UInt8(ascii: "[") {
                // An IPv6 literal starts the host; anywhere else it opens a link label (`https://host[Label]`).
                guard authorityEnd == authorityStart || text[authorityEnd - 1] == UInt8(ascii: "@") else { break }
                inIPv6Literal = true
            }
            if current == UInt8(ascii: "]") {
                guard inIPv6Literal else { break }  // `[https://x](…)`: the bracket closes markdown
                inIPv6Literal = false
            }
            authorityEnd += 1
        }
        let hasPath =
            authorityEnd < text.count
            && (text[authorityEnd] == UInt8(ascii: "/") || text[authorityEnd] == UInt8(ascii: "?")
                || text[authorityEnd] == UInt8(ascii: "#"))
        if !hasPath { authorityEnd = trimURLEnd(start: authorityStart, end: authorityEnd) }
        var hostStart = authorityStart
        for position in authorityStart..<authorityEnd where text[position] == UInt8(ascii: "@") {
            hostStart = position + 1
        }
        guard authorityEnd > authorityStart, let host = parseHost(hostStart, authorityEnd) else { return nil }

        // The rest runs to whitespace or a character that cannot stand in a URL.
        var end = authorityEnd
        if hasPath {
            end = endOfURLPath(from: authorityEnd, openedBy: byte(start - 1), quote: quote)
            end = trimURLEnd(start: authorityEnd, end: end)
        }
        guard isTrustworthy(start, end) else { return nil }
        // A bidirectional override right after it makes the text read differently than it is
        // (`…/a\u{202E}exe.pdf`): what is shown is not what would be looked up, so it is not a URL at all.
        guard !startsBidirectionalControl(at: end) else { return nil }
        // Extraction reports the URL as written, credentials included (`Indicator.withoutCredentials` is what
        // is looked up).
        // One string, written in place: the scheme lowered, `://` and the userinfo as written, the canonical
        // host, the rest as written.
        var hostForm = host.urlForm
        let text = text
        let url = hostForm.withUTF8 { hostBytes in
            let headLength = authorityStart - start
            let userinfoLength = hostStart - authorityStart
            let restLength = end - authorityEnd
            return String(unsafeUninitializedCapacity: headLength + userinfoLength + hostBytes.count + restLength) {
                buffer in
                var count = 0
                for position in start..<hostStart {
                    let byte = text[position]
                    buffer[count] = position < authorityStart ? asciiLowercased(byte) : byte
                    count += 1
                }
                for byte in hostBytes {
                    buffer[count] = byte
                    count += 1
                }
                for position in authorityEnd..<end {
                    buffer[count] = text[position]
                    count += 1
                }
                return count
            }
        }
        emit(.url, url, host: host.indicator)
        return end
    }

    /// Where a URL's path, query and fragment end: at whitespace or a character that cannot stand in a URL, at
    /// the bracket that closes the one the URL opened after (`(https://…)`, `[https://…]`), and at a link label
    /// (AsciiDoc's `https://host/path[Label]`, `https://host/path/[Label]`). Brackets stay only where queries use
    /// them for names (`?ids[]=1`, `?filter[name]=x`); a defang such as `[.]` was already refanged.
    func endOfURLPath(from start: Int, openedBy opener: UInt8?, quote: UInt8?) -> Int {
        var end = start
        var openParentheses = 0
        var inQuery = false
        while end < text.count {
            let current = text[end]
            if current <= 0x20 || current == 0x7F || current >= 0x80 || isURLTerminator(current, quote: quote) {
                return end
            }
            switch current {
            case UInt8(ascii: "?"), UInt8(ascii: "#"):
                inQuery = true
            case UInt8(ascii: "("):
                openParentheses += 1
            case UInt8(ascii: ")"):
                if openParentheses == 0, opener == UInt8(ascii: "(") { return end }
                openParentheses -= 1
            case UInt8(ascii: "]"):
                return end
            case UInt8(ascii: "["):
                guard inQuery, let close = closingBracket(after: end),
                    close + 1 < text.count, text[close + 1] == UInt8(ascii: "=") || text[close + 1] == UInt8(ascii: "[")
                else { return end }
                end = close
            default:
                break
            }
            end += 1
        }
        return end
    }

    /// The `]` that closes the `[` at `open` before any whitespace or another bracket, if any.
    func closingBracket(after open: Int) -> Int? {
        var position = open + 1
        while position < text.count, position - open <= 64 {
            switch text[position] {
            case UInt8(ascii: "]"): return position
            case UInt8(ascii: "["): return nil
            case 0...0x20: return nil
            default: position += 1
            }
        }
        return nil
    }

    /// `Unicode.Scalar.isBidirectionalControl` on the scanner's bytes: `E2 80 AA`-`AE`, `E2 81 A6`-`A9` in UTF-8.
    func startsBidirectionalControl(at position: Int) -> Bool {
        guard position + 2 < text.count, text[position] == 0xE2 else { return false }
        switch (text[position + 1], text[position + 2]) {
        case (0x80, 0xAA...0xAE), (0x81, 0xA6...0xA9): return true
        default: return false
        }
    }

    /// Characters that cannot stand in a URL, and the quote that opened it (`DownloadString('https://…')`).
    func isURLTerminator(_ byte: UInt8, quote: UInt8?) -> Bool {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "`"), UInt8(ascii: "{"),
            UInt8(ascii: "}"), UInt8(ascii: "|"), UInt8(ascii: "\\"), UInt8(ascii: "^"):
            return true
        default:
            return byte == quote
        }
    }

    /// Drops trailing punctuation that belongs to the sentence, keeping balanced closing brackets.
    func trimURLEnd(start: Int, end: Int) -> Int {
        var end = end
        // Closing brackets without an opening one inside the URL (negative), per kind.
        var parentheses = 0
        var squareBrackets = 0
        for position in start..<end {
            switch text[position] {
            case UInt8(ascii: "("): parentheses += 1
            case UInt8(ascii: ")"): parentheses -= 1
            case UInt8(ascii: "["): squareBrackets += 1
            case UInt8(ascii: "]"): squareBrackets -= 1
            default: break
            }
        }
        while end > start {
            switch text[end - 1] {
            case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "!"),
                UInt8(ascii: "?"), UInt8(ascii: "*"), UInt8(ascii: "'"):
                end -= 1
            case UInt8(ascii: ")"):
                guard parentheses < 0 else { return end }
                parentheses += 1
                end -= 1
            case UInt8(ascii: "]"):
                guard squareBrackets < 0 else { return end }
                squareBrackets += 1
                end -= 1
            default:
                return end
            }
        }
        return end
    }

    struct Host {
        let indicator: Indicator
        let urlForm: String
    }

    /// A URL or email host: `[IPv6]`, IPv4 or a domain, with an optional port.
    func parseHost(_ start: Int, _ end: Int) -> Host? {
        guard start < end else { return nil }
        var hostEnd = end
        var port = ""
        if text[start] == UInt8(ascii: "[") {
            guard let close = text[start..<end].firstIndex(of: UInt8(ascii: "]")),
                var address = IPv6Address(string(start + 1, close))
            else { return nil }
            if close + 1 < end {
                guard text[close + 1] == UInt8(ascii: ":") else { return nil }
                port = string(close + 2, end)
                guard isPort(port) else { return nil }
                port = ":" + port
            }
            if let v4 = address.mappedIPv4 {
                return Host(indicator: Indicator(type: .ipv4, value: v4.description), urlForm: v4.description + port)
            }
            address = IPv6Address(high: address.high, low: address.low)
            return Host(indicator: Indicator(type: .ipv6, value: address.description), urlForm: "[\(address)]\(port)")
        }
        if let colon = text[start..<end].lastIndex(of: UInt8(ascii: ":")) {
            port = string(colon + 1, end)
            guard isPort(port) else { return nil }
            port = ":" + port
            hostEnd = colon
        }
        if isASCIIDigit(text[start]),
            let v4 = IPv4Address.parse(UnsafeMutableBufferPointer(mutating: text)[start..<hostEnd])
        {
            let address = v4.description
            return Host(
                indicator: Indicator(type: .ipv4, value: address),
                urlForm: port.isEmpty ? address : address + port
            )
        }
        guard let domain = canonicalDomain(start, hostEnd) else { return nil }
        return Host(indicator: Indicator(type: .domain, value: domain), urlForm: port.isEmpty ? domain : domain + port)
    }

    /// `DomainName.canonical` of the bytes at `start..<end` (without a string in between when they are ASCII),
    /// or nil for a fill-in (`xxx.xxx.xxx.xxx`, `host.domain.com`): the one way the scanner takes a domain, as a
    /// word or as a URL's or email's host.
    func canonicalDomain(_ start: Int, _ end: Int) -> String? {
        let bytes = text[start..<end]
        let domain =
            bytes.allSatisfy({ $0 < 0x80 })
            ? DomainName.canonical(ascii: bytes, extraTopLevelDomains: extraTopLevelDomains)
            : DomainName.canonical(string(start, end), extraTopLevelDomains: extraTopLevelDomains)
        guard let domain, !FalsePositiveNames.isPlaceholder(domain) else { return nil }
        return domain
    }

    func isPort(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 5 && text.utf8.allSatisfy(isASCIIDigit)
    }

    // MARK: IPv6

    static let longestIPv6Text = 45

    /// Parses an IPv6 address (with an optional zone) starting at `start`; IPv4-mapped ones come out as IPv4.
    mutating func scanIPv6(from start: Int) -> Int? {
        var position = start
        var colons = 0
        var hexDigits = 0
        while position < text.count {
            let current = text[position]
            if current == UInt8(ascii: ":") {
                colons += 1
            } else if hexValue(current) != nil {
                hexDigits += 1
            } else if current != UInt8(ascii: ".") {
                break
            }
            position += 1
        }
        let runEnd = position
        guard colons >= 2, hexDigits > 0, runEnd - start <= TextScanner.longestIPv6Text else {
            noIPv6Before = runEnd
            return nil
        }
        var end = runEnd
        var address = IPv6Address.parse(UnsafeMutableBufferPointer(mutating: text)[start..<end])
        if address == nil, let last = byte(end - 1), last == UInt8(ascii: ".") || last == UInt8(ascii: ":") {
            end -= 1
            address = IPv6Address.parse(UnsafeMutableBufferPointer(mutating: text)[start..<end])
        }
        guard let address else {
            noIPv6Before = runEnd
            return nil
        }
        var zoneEnd = end
        if byte(end) == UInt8(ascii: "%") {
            zoneEnd = end + 1
            while let current = byte(zoneEnd),
                isASCIIAlphanumeric(current) || current == UInt8(ascii: "-")
                    || current == UInt8(ascii: "_")
            {
                zoneEnd += 1
            }
        }
        if let after = byte(zoneEnd), isASCIIAlphanumeric(after) {
            noIPv6Before = runEnd
            return nil
        }
        if let v4 = address.mappedIPv4 {
            emit(.ipv4, v4.description)
        } else {
            emit(.ipv6, address.description)
            if let embedded = SpecialPurposeAddresses.embeddedIPv4(address),
                SpecialPurposeAddresses.reason(for: embedded) == nil
            {
                // A 6to4 or Teredo address stands for a public IPv4 host: that host is the indicator.
                emit(.ipv4, embedded.description)
            }
        }
        return zoneEnd
    }

    // MARK: Words: emails, IPv4, hashes, domains

    mutating func processWord(_ start: Int, _ end: Int) {
        if let at = text[start..<end].lastIndex(of: UInt8(ascii: "@")) {
            processEmail(start, at, end)
            return
        }
        // `+` and `%` only belong to email local parts: elsewhere they separate (`evil.com%2F`).
        var pieceStart = start
        for position in start...end {
            if position == end || text[position] == UInt8(ascii: "+") || text[position] == UInt8(ascii: "%") {
                if position > pieceStart { processDotted(pieceStart, position, wordStart: start) }
                pieceStart = position + 1
            }
        }
    }

    mutating func processEmail(_ start: Int, _ at: Int, _ end: Int) {
        var localStart = start
        if let previousAt = text[start..<at].lastIndex(of: UInt8(ascii: "@")) { localStart = previousAt + 1 }
        var hostEnd = end
        if let cut = text[(at + 1)..<end].firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) {
            hostEnd = cut
        }
        while hostEnd > at + 1, text[hostEnd - 1] == UInt8(ascii: ".") || text[hostEnd - 1] == UInt8(ascii: "-") {
            hostEnd -= 1
        }
        guard hostEnd > at + 1, let host = parseHost(at + 1, hostEnd),
            !text[(at + 1)..<hostEnd].contains(UInt8(ascii: ":"))
        else {
            return
        }
        let local = text[localStart..<at]
        // `server@203.0.113.7` and `c2@203.0.113.7:443` in a C2 configuration dump are a setting's name and an
        // address: the address is the indicator. Other names before an address stay emails (`email@1.2.3.4`).
        if host.indicator.type == .ipv4, FalsePositiveNames.isSettingName(local) || byte(end) == UInt8(ascii: ":") {
            processDotted(at + 1, hostEnd, wordStart: at + 1)
            return
        }
        let localIsValid =
            !local.isEmpty && local.count <= 64 && local.first != UInt8(ascii: ".") && local.last != UInt8(ascii: ".")
            && local.allSatisfy { $0 < 0x80 } && !zip(local, local.dropFirst()).contains { $0 == 0x2E && $1 == 0x2E }
        if localIsValid, isTrustworthy(localStart, hostEnd) {
            emit(.email, string(localStart, at).lowercased() + "@" + host.indicator.value, host: host.indicator)
        } else {
            processDotted(at + 1, hostEnd, wordStart: at + 1)
        }
    }

    mutating func processDotted(_ start: Int, _ end: Int, wordStart: Int) {
        var start = start
        var end = end
        while start < end, text[start] == UInt8(ascii: ".") || text[start] == UInt8(ascii: "-") { start += 1 }
        while end > start, text[end - 1] == UInt8(ascii: ".") { end -= 1 }
        guard start < end else { return }
        let span = text[start..<end]
        if !span.contains(UInt8(ascii: ".")) {
            // One label: no address, domain or email, at most a hash.
            if let hashType = TextScanner.hashType(span) { emit(hashType, lowercasedString(start, end)) }
            return
        }
        if !span.contains(where: { isASCIILetter($0) || $0 >= 0x80 }) {
            processNumeric(start, end, wordStart: wordStart)
            return
        }
        if let hashType = TextScanner.hashType(span) {
            emit(hashType, lowercasedString(start, end))
            return
        }
        processDomain(start, end, wordStart: wordStart)
        // A hash used as a file name (`<sha256>.exe`) is still a hash.
        var labelStart = start
        for position in start...end where position == end || text[position] == UInt8(ascii: ".") {
            if let hashType = TextScanner.hashType(text[labelStart..<position]) {
                emit(hashType, lowercasedString(labelStart, position))
            }
            labelStart = position + 1
        }
    }

    static func hashType(_ bytes: some Collection<UInt8>) -> IndicatorType? {
        let type: IndicatorType? =
            switch bytes.count {
            case 32: .md5
            case 40: .sha1
            case 64: .sha256
            default: nil
            }
        guard let type, bytes.allSatisfy({ hexValue($0) != nil }) else { return nil }
        return type
    }

    /// Digits and dots (and `-`/`_` between addresses, as in ranges): IPv4 addresses, never version strings.
    mutating func processNumeric(_ start: Int, _ end: Int, wordStart: Int) {
        // `Chrome/119.0.0.0`, `nginx/1.2.3.4`: a product name and a slash make it a version.
        if start == wordStart, byte(start - 1) == UInt8(ascii: "/"), let beforeSlash = byte(start - 2),
            isASCIILetter(beforeSlash)
        {
            return
        }
        var pieceStart = start
        for position in start...end {
            if position == end || text[position] == UInt8(ascii: "-") || text[position] == UInt8(ascii: "_") {
                var pieceEnd = position
                while pieceEnd > pieceStart, text[pieceEnd - 1] == UInt8(ascii: ".") { pieceEnd -= 1 }
                if pieceEnd > pieceStart, isTrustworthy(pieceStart, pieceEnd) {
                    let address = IPv4Address.parse(UnsafeMutableBufferPointer(mutating: text)[pieceStart..<pieceEnd])
                    if let address { emit(.ipv4, address.description) }
                }
                pieceStart = position + 1
            }
        }
    }

    mutating func processDomain(_ start: Int, _ end: Int, wordStart: Int) {
        // Restart the candidate after any label that cannot be inside a domain (`m.facebook.com---- x.com`).
        var candidateStart = start
        var labelStart = start
        var valid = true
        for position in start...end where position == end || text[position] == UInt8(ascii: ".") {
            let isLast = position == end
            if labelStart == position {
                candidateStart = position + 1
            } else if text[labelStart] == UInt8(ascii: "-") {
                var trimmed = labelStart
                while trimmed < position, text[trimmed] == UInt8(ascii: "-") { trimmed += 1 }
                candidateStart = trimmed
            } else if text[position - 1] == UInt8(ascii: "-") {
                if isLast { valid = false }
                candidateStart = position + 1
            }
            labelStart = position + 1
        }
        guard valid, candidateStart < end, isTrustworthy(candidateStart, end) else { return }
        // Cheap checks before any string is built: a dot, and a TLD that is letters or an IDN.
        guard let lastDot = text[candidateStart..<end].lastIndex(of: UInt8(ascii: ".")), lastDot + 1 < end,
            text[(lastDot + 1)..<end].allSatisfy({ isASCIILetter($0) || $0 >= 0x80 || $0 == UInt8(ascii: "-") })
        else { return }
        guard let domain = canonicalDomain(candidateStart, end) else { return }
        if !isDefanged(candidateStart, end),
            looksLikeSomethingElse(domain, originalStart: candidateStart, wordStart: wordStart, end: end)
        {
            return
        }
        emit(.domain, domain)
    }

    /// File names, paths, dotted code and antivirus names that happen to end in a real TLD.
    ///
    /// - Parameters:
    ///   - domain: the canonical (lowercase) candidate.
    ///   - originalStart: where the candidate starts in the text, to see its original letter case.
    func looksLikeSomethingElse(_ domain: String, originalStart: Int, wordStart: Int, end: Int) -> Bool {
        let previous = byte(wordStart - 1)
        if previous == UInt8(ascii: "\\") { return true }
        if previous == UInt8(ascii: "/"), byte(wordStart - 2) != UInt8(ascii: "/") { return true }
        if byte(end) == UInt8(ascii: "(") { return true }
        // Each label's roles in one lookup (most labels have none); the last one is the TLD.
        var labelCount = 0
        var firstRoles: FalsePositiveNames.Roles = []
        var tldRoles: FalsePositiveNames.Roles = []
        var tld = ""
        var anyMalwarePart = false
        var labelStart = originalStart
        // The canonical domain is the candidate's bytes lowered (an IDN's labels are never such words).
        for position in originalStart...end where position == end || text[position] == UInt8(ascii: ".") {
            let length = position - labelStart
            var roles: FalsePositiveNames.Roles = []
            if length >= 2, length <= longestRoleWord {
                let text = text
                let label = String(unsafeUninitializedCapacity: length) { buffer in
                    for offset in 0..<length { buffer[offset] = asciiLowercased(text[labelStart + offset]) }
                    return length
                }
                roles = wordRoles[label] ?? []
                tld = label
            } else {
                tld = ""
            }
            if labelCount == 0 { firstRoles = roles }
            if roles.contains(.malwareNamePart) { anyMalwarePart = true }
            tldRoles = roles
            labelCount += 1
            labelStart = position + 1
        }
        if tldRoles.contains(.fileExtension) || tldRoles.contains(.contextualFileExtension),
            PublicSuffixList.shared.isPublicSuffixTheTopLevelDomain(of: domain, tld: tld),
            tldRoles.contains(.fileExtension) || isInFileNameContext(originalStart, end)
        {
            return true
        }
        if labelCount == 2, tldRoles.contains(.propertyName), firstRoles.contains(.codeObject) { return true }
        if anyMalwarePart { return true }
        // `System.IO`, `Microsoft.PowerShell.Security`: a capitalised TLD after lowercase letters is code.
        let original = text[originalStart..<end]
        if let lastDot = original.lastIndex(of: UInt8(ascii: ".")),
            original[(lastDot + 1)...].contains(where: { $0 >= 0x41 && $0 <= 0x5A }),
            original[..<lastDot].contains(where: { $0 >= 0x61 && $0 <= 0x7A })
        {
            return true
        }
        return false
    }
}

extension TextScanner {
    /// Whether the word at `start..<end` stands where file names do: after `File name:`, `Filename`, `Files`
    /// on its line, under a short heading that names files, or in a table row that also holds a hash.
    func isInFileNameContext(_ start: Int, _ end: Int) -> Bool {
        let lineStart = startOfLine(before: start)
        // Near the name only: `file` earlier in a paragraph of prose says nothing of this word.
        if containsFileWord(max(lineStart, start - 48), start) { return true }
        var lineEnd = end
        while lineEnd < text.count, lineEnd - end < 512, text[lineEnd] != 0x0A { lineEnd += 1 }
        if isTableRowWithHash(lineStart, lineEnd, skipping: start..<end) { return true }
        if isInFileNameColumn(lineStart, start) { return true }
        // A list of names under `Files:` or `### File names`: short lines up to a heading that names files.
        var itemStart = lineStart
        for _ in 0..<64 {
            guard itemStart > 0 else { return false }
            let previousEnd = itemStart - 1
            let previousStart = startOfLine(before: previousEnd)
            guard previousEnd > previousStart, previousEnd - previousStart <= 80 else { return false }
            let first = text[previousStart]
            if first == UInt8(ascii: "#") || first == UInt8(ascii: "=") || text[previousEnd - 1] == UInt8(ascii: ":") {
                return containsFileWord(previousStart, previousEnd)
            }
            itemStart = previousStart
        }
        return false
    }

    /// Whether the word at `start` is in a Markdown table column whose header names files (`| File name |`).
    func isInFileNameColumn(_ lineStart: Int, _ start: Int) -> Bool {
        guard text[lineStart] == UInt8(ascii: "|") else { return false }
        let column = text[lineStart..<start].reduce(0) { $0 + ($1 == UInt8(ascii: "|") ? 1 : 0) }
        // The header is the first row of the table: walk up the rows that start with `|`.
        var headerStart = lineStart
        for _ in 0..<256 {
            guard headerStart > 0 else { break }
            let previousStart = startOfLine(before: headerStart - 1)
            guard text[previousStart] == UInt8(ascii: "|") else { break }
            headerStart = previousStart
        }
        guard headerStart < lineStart else { return false }
        var cellStart = headerStart
        var bars = 0
        var position = headerStart
        while position < text.count, text[position] != 0x0A {
            if text[position] == UInt8(ascii: "|") {
                bars += 1
                if bars == column { cellStart = position + 1 }
                if bars == column + 1 { return containsFileWord(cellStart, position) }
            }
            position += 1
        }
        return false
    }

    /// Where the line holding `position` starts (looking back at most 512 bytes).
    func startOfLine(before position: Int) -> Int {
        var lineStart = position
        while lineStart > 0, position - lineStart < 512, text[lineStart - 1] != 0x0A { lineStart -= 1 }
        return lineStart
    }

    /// `file` in any case (`File name`, `filename`, `FILES`) between `start` and `end`.
    func containsFileWord(_ start: Int, _ end: Int) -> Bool {
        guard end - start >= 4 else { return false }
        for position in start...(end - 4) where text[position] | 0x20 == UInt8(ascii: "f") {
            if position == 0 || !isASCIILetter(text[position - 1]), text[position + 1] | 0x20 == UInt8(ascii: "i"),
                text[position + 2] | 0x20 == UInt8(ascii: "l"),
                text[position + 3] | 0x20 == UInt8(ascii: "e")
            {
                return true
            }
        }
        return false
    }

    /// A line with cells (`|`, tab or `,` between them) one of which is an MD5, SHA-1 or SHA-256.
    func isTableRowWithHash(_ start: Int, _ end: Int, skipping word: Range<Int>) -> Bool {
        var hasSeparator = false
        var runStart = start
        var hasHash = false
        for position in start...end {
            let current = position < end ? text[position] : 0x20
            if hexValue(current) != nil { continue }
            if current == UInt8(ascii: "|") || current == 0x09 || current == UInt8(ascii: ",") { hasSeparator = true }
            if !word.contains(runStart), [32, 40, 64].contains(position - runStart),
                runStart == start || !isASCIIAlphanumeric(text[runStart - 1]), !isASCIIAlphanumeric(current)
            {
                hasHash = true
            }
            runStart = position + 1
        }
        return hasHash && hasSeparator
    }
}

/// Words that make a domain-shaped string something else.
enum FalsePositiveNames {
    struct Roles: OptionSet {
        let rawValue: UInt8
        static let fileExtension = Roles(rawValue: 1)
        static let contextualFileExtension = Roles(rawValue: 2)
        static let propertyName = Roles(rawValue: 4)
        static let codeObject = Roles(rawValue: 8)
        static let malwareNamePart = Roles(rawValue: 16)
    }

    /// The longest word of the sets below: longer labels are none of them.
    static let longestWord = roles.keys.map(\.utf8.count).max()!

    /// Every word of the sets below with the roles it has, so a label costs one lookup.
    static let roles: [String: Roles] = {
        var roles: [String: Roles] = [:]
        for (words, role) in [
            (fileExtensions, Roles.fileExtension), (contextualFileExtensions, .contextualFileExtension),
            (propertyNames, .propertyName), (codeObjects, .codeObject), (malwareNameParts, .malwareNamePart),
        ] {
            for word in words { roles[word, default: []].insert(role) }
        }
        return roles
    }()

    /// TLDs that are also file extensions, read as file names where the text names files
    /// (`TextScanner.isInFileNameContext`): cabinets, videos, scripts and sources, country codes among them.
    static let contextualFileExtensions: Set<String> = [
        "cab", "cat", "cr", "ml", "rs", "pl", "cc", "ai", "am", "ac", "as", "bz", "mk", "ms", "in", "run", "app",
    ]

    /// Fill-ins of sample log lines and documentation: `xxx.xxx.xxx.xxx`, `www.xxx.xxx`, `host.domain.com`,
    /// `mail.yourdomain.com`.
    static func isPlaceholder(_ domain: String) -> Bool {
        var name = domain
        return name.withUTF8(isPlaceholder(bytes:))
    }

    static func isPlaceholder(bytes name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let lastDot = name.lastIndex(of: UInt8(ascii: ".")) else { return false }
        let head = name[..<lastDot]
        if name[(lastDot + 1)...].allSatisfy({ $0 == UInt8(ascii: "x") }) {
            return head.split(separator: UInt8(ascii: ".")).allSatisfy { label in
                label.allSatisfy { $0 == UInt8(ascii: "x") } || label.elementsEqual("www".utf8)
            }
        }
        let secondLevelStart = (head.lastIndex(of: UInt8(ascii: ".")) ?? -1) + 1
        let secondLevel = name[secondLevelStart..<lastDot]
        // Most names are no fill-in: rule them out by the label's first letter and length before any lookup.
        guard (6...12).contains(secondLevel.count) else { return false }
        switch secondLevel.first {
        case UInt8(ascii: "y"), UInt8(ascii: "m"), UInt8(ascii: "s"), UInt8(ascii: "a"), UInt8(ascii: "c"),
            UInt8(ascii: "d"):
            break
        default:
            return false
        }
        // Compared in place: a handful of names, and building a String to hash cost more than all of them.
        if fillInDomains.contains(where: { $0.utf8.count == secondLevel.count && $0.utf8.elementsEqual(secondLevel) }) {
            return true
        }
        // `host.domain.com`: a generic host name under `domain`, as vendors' sample lines write it.
        guard secondLevel.elementsEqual("domain".utf8), secondLevelStart > 0 else { return false }
        let hostEnd = secondLevelStart - 1
        let hostStart = (name[..<hostEnd].lastIndex(of: UInt8(ascii: ".")) ?? -1) + 1
        return fillInHosts.contains(
            String(decoding: UnsafeBufferPointer(rebasing: name[hostStart..<hostEnd]), as: UTF8.self)
        )
    }

    /// The names C2 configuration dumps give their servers (`server@`, `c2_1@`, `backup-host@`).
    static func isSettingName(_ local: TextScanner.Bytes) -> Bool {
        let parts = local.split { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        return parts.contains { part in
            var stripped = part
            while let last = stripped.last, isASCIIDigit(last) { stripped = stripped.dropLast() }
            return settingNames.contains(
                String(decoding: UnsafeBufferPointer(rebasing: part), as: UTF8.self).lowercased()
            )
                || settingNames.contains(
                    String(decoding: UnsafeBufferPointer(rebasing: stripped), as: UTF8.self).lowercased()
                )
        }
    }

    static let settingNames: Set<String> = [
        "server", "servers", "srv", "c2", "cc", "cnc", "host", "hosts", "ip", "addr", "address", "gate", "gateway",
        "panel", "proxy", "relay", "node", "backup", "primary", "secondary", "domain", "callback", "beacon",
        "connect", "master", "controller", "upstream", "endpoint", "remote", "target",
    ]

    static let fillInDomains: [String] = [
        "yourdomain", "your-domain", "mydomain", "my-domain", "somedomain", "anydomain", "yoursite", "yourcompany",
        "companyname", "domainname", "your-company",
    ]

    static let fillInHosts: Set<String> = [
        "host", "hostname", "server", "subdomain", "sub", "machine", "computer", "dc", "dc01", "client", "workstation",
    ]

    /// TLDs that are also common file extensions: `run.sh`, `setup.py`, `docs.zip`, `readme.md`. Left out on
    /// purpose: `.pl`, `.cc`, `.ml`, `.rs`, whose real domains (many of them abused) outnumber such files in logs.
    static let fileExtensions: Set<String> = [
        "zip", "mov", "sh", "py", "pm", "md", "so", "ps", "one", "pub",
    ]

    /// First words of dotted code such as `user.name`, `rule.id`, `data.win`.
    static let codeObjects: Set<String> = [
        "user", "self", "this", "os", "sys", "obj", "object", "document", "window", "data", "event", "request", "req",
        "response", "res", "config", "cfg", "process", "proc", "file", "item", "node", "args", "ctx", "context",
        "model", "field", "log", "logger", "console", "path", "string", "system", "agent", "rule", "decoder",
        "manager", "syscheck", "audit", "target", "source", "parent", "child", "image", "module", "exports", "math",
        "json", "array", "err", "error", "params", "options", "settings", "env", "session", "thread", "task", "job",
        "auth", "account", "app", "db", "query", "row", "record", "result", "value", "entry", "key", "client",
        "server", "host", "location", "win", "group", "member", "person", "customer", "author", "owner", "device",
    ]

    /// TLDs that are also property names in code (`user.name`, `rule.id`, `logger.info`).
    static let propertyNames: Set<String> = [
        "name", "id", "info", "host", "email", "link", "date", "new", "run", "win", "zip", "app", "page", "events",
        "group", "one", "store", "tech", "network", "services", "security", "domains", "mobile", "photo", "photos",
        "video", "click", "codes", "center", "watch", "live",
    ]

    /// Parts of antivirus detection names (`Trojan.Win32.Agent`, `HEUR.Exploit.Script`).
    static let malwareNameParts: Set<String> = [
        "trojan", "backdoor", "worm", "virus", "exploit", "adware", "riskware", "hacktool", "ransom", "heur", "w32",
        "w64", "win32", "win64", "msil", "trojandownloader", "trojanspy", "trojandropper", "not-a-virus", "pws",
        "email-worm", "net-worm", "im-worm", "p2p-worm", "troj", "bkdr", "tspy", "pua", "pup", "generickd",
    ]
}
