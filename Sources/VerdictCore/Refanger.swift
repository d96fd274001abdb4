/// Text with defanged indicators written back in their real form, remembering which bytes were rewritten.
///
/// Analysts and reports defang indicators (`hxxp://evil[.]com`) so nobody clicks them; logs and alerts carry
/// them as they were seen. Extraction works on the refanged bytes and uses the marks to trust a candidate
/// that someone deliberately defanged (`evil[.]zip` is a domain; a bare `evil.zip` is a file name).
struct RefangedText {
    enum Mark: UInt8 {
        case original = 0
        /// An unambiguous defang such as `[.]`, `hxxp` or `[at]`.
        case defanged = 1
        /// A spelled-out word such as ` dot ` or ` AT `: trusted only together with a real defang or an `@`.
        case spelledOut = 2
    }

    var bytes: [UInt8] = []
    /// The positions in `bytes` that are not `.original`, in order, with their marks, as refanging finds them.
    var marked: [(position: Int, mark: Mark)] = []
    /// `marked` as one bit a byte per mark, built once refanging is done: the scanner asks for the marks of
    /// every candidate, and a search of the list cost more than the rest of a domain's checks.
    private var defangedBits: [UInt64] = []
    private var spelledOutBits: [UInt64] = []

    init(refanging input: [UInt8]) {
        bytes.reserveCapacity(input.count)
        var reader = Reader(input: input)
        // Held here: a static costs a lazy-initialisation check on every byte.
        let candidates = RefangedText.mayStartDefangByte
        while reader.index < input.count {
            // Most bytes start no defang: copy them straight through (from a buffer: no array bounds checks in
            // the loop every byte passes).
            let start = reader.index
            let runEnd = input.withUnsafeBufferPointer { buffer in
                var runEnd = start
                while runEnd < buffer.count, !RefangedText.mayStartDefang(buffer, at: runEnd, candidates) {
                    runEnd += 1
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<runEnd]))
                return runEnd
            }
            if runEnd > start {
                reader.index = runEnd
                continue
            }
            refangNext(&reader)
        }
        guard !marked.isEmpty else { return }
        defangedBits = [UInt64](repeating: 0, count: bytes.count / 64 + 1)
        spelledOutBits = defangedBits
        for (position, mark) in marked {
            let bit: UInt64 = 1 << UInt64(position & 63)
            if mark == .defanged { defangedBits[position >> 6] |= bit } else { spelledOutBits[position >> 6] |= bit }
        }
    }

    /// First bytes inside a bracket defang: `.`, `dot`, `@`, `at`, `:`, `/`, `-`.
    private static let mayStartBracketForm: [Bool] = (0..<256).map { byte in
        ".dD@aA:/-".utf8.contains(UInt8(byte))
    }

    /// The bytes `refangNext` looks at: brackets, backslash, space and the first letters of schemes and of
    /// glued `AT`/`DOT`.
    /// A pointer, not an array: every byte of the input is looked up, and an array costs a bounds check there.
    /// Allocated once and never freed or written.
    nonisolated(unsafe) private static let mayStartDefangByte: UnsafePointer<Bool> = {
        let table = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        for byte in 0..<256 { table[byte] = "[({\\ hHfFsSAD".utf8.contains(UInt8(byte)) }
        return UnsafePointer(table)
    }()

    /// Whether `refangNext` could rewrite something at `position`, judged from the byte and its neighbours:
    /// a space only before `dot`/`AT` or more spaces, a scheme letter only at a word's start, `A`/`D` only
    /// glued to a lower-case letter. Prose is full of spaces and of such letters; most never start a defang.
    @inline(__always)
    private static func mayStartDefang(
        _ input: UnsafeBufferPointer<UInt8>,
        at position: Int,
        _ candidates: UnsafePointer<Bool>
    ) -> Bool {
        let byte = input[position]
        guard candidates[Int(byte)] else { return false }
        switch byte {
        case 0x20:
            // ` dot ` or ` AT ` after a word (up to three spaces either side), as `refangSpelledOut` reads them.
            guard position > 0, isASCIIAlphanumeric(input[position - 1]) else { return false }
            var next = position
            while next < input.count, next - position < 3, input[next] == 0x20 { next += 1 }
            guard next + 2 < input.count else { return false }
            let first = input[next] | 0x20
            if first == UInt8(ascii: "d") { return input[next + 1] | 0x20 == UInt8(ascii: "o") }
            return input[next] == UInt8(ascii: "A") && input[next + 1] == UInt8(ascii: "T")
        case UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "s"),
            UInt8(ascii: "S"):
            // A scheme starts a word and is 3 to 6 letters (or masks) before its separator, as `refangScheme`
            // reads it: most words starting with these letters are told apart here, in the copying loop.
            guard position == 0 || !isASCIIAlphanumeric(input[position - 1]) else { return false }
            return schemeWordEnd(input, from: position) != nil
        case UInt8(ascii: "A"), UInt8(ascii: "D"):
            return position > 0 && input[position - 1] >= 0x61 && input[position - 1] <= 0x7A
        default:
            return true
        }
    }

    private struct Reader {
        let input: [UInt8]
        var index = 0

        func byte(at offset: Int) -> UInt8? {
            let position = index + offset
            return position < input.count ? input[position] : nil
        }

        /// Whether the bytes at `offset` spell `word`, ignoring ASCII case.
        func matches(_ word: StaticString, at offset: Int, ignoringCase: Bool = true) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + offset + count <= input.count else { return false }
            for position in 0..<count {
                var actual = input[index + offset + position]
                let expected = word.utf8Start[position]
                if ignoringCase { actual = asciiLowercased(actual) }
                if actual != expected { return false }
            }
            return true
        }

        /// How many spaces start at `offset` (at most `limit`).
        func spaces(at offset: Int, limit: Int = 3) -> Int {
            var count = 0
            while count < limit, byte(at: offset + count) == 0x20 { count += 1 }
            return count
        }
    }

    private mutating func emit(_ byte: UInt8, _ mark: Mark = .original) {
        if mark != .original { marked.append((bytes.count, mark)) }
        bytes.append(byte)
    }

    /// The marks of the bytes at `start..<end`: whether any is a defang, and whether any is spelled out.
    func marks(_ start: Int, _ end: Int) -> (defanged: Bool, spelledOut: Bool) {
        guard !marked.isEmpty, start < end else { return (false, false) }
        return (Self.anyBit(of: defangedBits, start, end), Self.anyBit(of: spelledOutBits, start, end))
    }

    private static func anyBit(of bits: [UInt64], _ start: Int, _ end: Int) -> Bool {
        let firstWord = start >> 6
        let lastWord = (end - 1) >> 6
        for word in firstWord...lastWord {
            var value = bits[word]
            if word == firstWord { value &= ~0 << UInt64(start & 63) }
            if word == lastWord { value &= ~0 >> UInt64(63 - ((end - 1) & 63)) }
            if value != 0 { return true }
        }
        return false
    }

    private mutating func emit(_ text: StaticString, _ mark: Mark) {
        for position in 0..<text.utf8CodeUnitCount { emit(text.utf8Start[position], mark) }
    }

    private mutating func trimTrailingSpaces() {
        var removed = 0
        while removed < 3, bytes.last == 0x20 {
            bytes.removeLast()
            if marked.last?.position == bytes.count { marked.removeLast() }
            removed += 1
        }
    }

    private var lastIsAlphanumeric: Bool { bytes.last.map(isASCIIAlphanumeric) ?? false }

    private mutating func refangNext(_ reader: inout Reader) {
        let byte = reader.input[reader.index]
        let atWordStart = reader.index == 0 || !isASCIIAlphanumeric(reader.input[reader.index - 1])
        switch byte {
        case UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"):
            if refangBracket(&reader) { return }
            if atWordStart, refangScheme(&reader, bracketed: true) { return }
        case UInt8(ascii: "\\"):
            if let next = reader.byte(at: 1), next == UInt8(ascii: ".") || next == UInt8(ascii: "/") {
                emit(next, .defanged)
                reader.index += 2
                return
            }
        case 0x20:
            if refangSpelledOut(&reader) { return }
        case UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "s"),
            UInt8(ascii: "S"):
            if atWordStart, refangScheme(&reader, bracketed: false) { return }
        case UInt8(ascii: "A"), UInt8(ascii: "D"):
            if refangGluedWord(&reader) { return }
        default:
            break
        }
        emit(byte)
        reader.index += 1
    }

    /// `fooATbar.com`, `fooDOTcom`: an upper-case `AT` or `DOT` glued between lower-case letters. Anything
    /// longer (`fooMATbar`, `fooATAbar`) is a word, not a defang.
    private mutating func refangGluedWord(_ reader: inout Reader) -> Bool {
        guard let last = bytes.last, last >= 0x61, last <= 0x7A, reader.index > 0,
            reader.input[reader.index - 1] == last
        else { return false }
        let (word, replacement): (StaticString, UInt8) =
            reader.matches("AT", at: 0, ignoringCase: false) ? ("AT", UInt8(ascii: "@")) : ("DOT", UInt8(ascii: "."))
        let length = word.utf8CodeUnitCount
        guard reader.matches(word, at: 0, ignoringCase: false), let next = reader.byte(at: length), next >= 0x61,
            next <= 0x7A
        else { return false }
        emit(replacement, .spelledOut)
        reader.index += length
        return true
    }

    /// What may stand between the brackets of a defang, and what it stands for (0 for `://`).
    private static let bracketForms: [(StaticString, UInt8)] = [
        (".", UInt8(ascii: ".")), ("dot", UInt8(ascii: ".")), ("@", UInt8(ascii: "@")), ("at", UInt8(ascii: "@")),
        ("://", 0), (":", UInt8(ascii: ":")), ("/", UInt8(ascii: "/")), ("-", UInt8(ascii: "-")),
    ]

    /// `[.]`, `(dot)`, `{.}`, `[:]`, `[/]`, `[-]`, `[@]`, `(at)` and the like, with matching brackets.
    private mutating func refangBracket(_ reader: inout Reader) -> Bool {
        let open = reader.input[reader.index]
        let close: UInt8 =
            switch open {
            case UInt8(ascii: "["): UInt8(ascii: "]")
            case UInt8(ascii: "("): UInt8(ascii: ")")
            default: UInt8(ascii: "}")
            }
        guard let first = reader.byte(at: 1), RefangedText.mayStartBracketForm[Int(first)] else { return false }
        for (inner, replacement) in RefangedText.bracketForms {
            let length = inner.utf8CodeUnitCount
            guard reader.matches(inner, at: 1), reader.byte(at: 1 + length) == close else { continue }
            reader.index += length + 2
            if replacement == 0 {
                emit("://", .defanged)
                return true
            }
            if replacement == UInt8(ascii: ".") || replacement == UInt8(ascii: "@") {
                // `kaspersky [dot] com`, `foo (at) bar.com`: the spaces around belong to the defang.
                trimTrailingSpaces()
                emit(replacement, .defanged)
                let spaces = reader.spaces(at: 0)
                if spaces > 0, let next = reader.byte(at: spaces), isASCIIAlphanumeric(next) {
                    reader.index += spaces
                }
            } else {
                emit(replacement, .defanged)
            }
            return true
        }
        return false
    }

    /// ` dot ` / ` DOT ` between two words, and ` AT ` (upper case only: `failed at 0day.rocks` is prose).
    private mutating func refangSpelledOut(_ reader: inout Reader) -> Bool {
        guard lastIsAlphanumeric else { return false }
        let before = reader.spaces(at: 0)
        let replacement: UInt8
        if reader.matches("dot", at: before) {
            replacement = UInt8(ascii: ".")
        } else if reader.matches("AT", at: before, ignoringCase: false) {
            replacement = UInt8(ascii: "@")
        } else {
            return false
        }
        let wordLength = replacement == UInt8(ascii: "@") ? 2 : 3
        let after = reader.spaces(at: before + wordLength)
        guard after > 0, let next = reader.byte(at: before + wordLength + after), isASCIIAlphanumeric(next) else {
            return false
        }
        emit(replacement, .spelledOut)
        reader.index += before + wordLength + after
        return true
    }

    /// Where a word shaped like a scheme ends when it starts at `start`: 3 to 6 letters or masks (`_`, `*`), then
    /// a separator (`:`, `[`, `]`, `)`, or spaces before `:` or `[`, as in `http ://`). Nil for any other word;
    /// only then is the word compared with the schemes.
    static func schemeWordEnd(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var end = start
        while end < input.count, end - start < 6,
            isASCIILetter(input[end]) || input[end] == UInt8(ascii: "_") || input[end] == UInt8(ascii: "*")
        {
            end += 1
        }
        guard end - start >= 3, end < input.count else { return nil }
        switch input[end] {
        case UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ")"):
            return end
        case 0x20:
            var next = end
            while next < input.count, next - end < 2, input[next] == 0x20 { next += 1 }
            let separated = next < input.count && (input[next] == UInt8(ascii: ":") || input[next] == UInt8(ascii: "["))
            return separated ? end : nil
        default:
            return nil
        }
    }

    /// A URL scheme and its separator, defanged or mangled: `hxxp://`, `h__p://`, `hXXps[://]`, `fxp://`,
    /// `[https]://`, `http[:]//`, `http ://`, `http:///`, `http:// host`, and JSON's `https:\/\/`.
    private mutating func refangScheme(_ reader: inout Reader, bracketed: Bool) -> Bool {
        let wordStart = reader.index + (bracketed ? 1 : 0)
        // Only a separator makes a scheme: look for one before comparing the word.
        let word = reader.input.withUnsafeBufferPointer { input -> (end: Int, URLScheme, defanged: Bool)? in
            guard let wordEnd = Self.schemeWordEnd(input, from: wordStart),
                let (scheme, defanged) = URLScheme.reading(input[wordStart..<wordEnd])
            else { return nil }
            return (wordEnd, scheme, defanged)
        }
        guard let (wordEnd, scheme, schemeDefanged) = word else { return false }
        var offset = wordEnd - reader.index
        var defanged = schemeDefanged
        if bracketed {
            let open = reader.input[reader.index]
            let close =
                open == UInt8(ascii: "[") ? UInt8(ascii: "]") : (open == UInt8(ascii: "(") ? UInt8(ascii: ")") : 0)
            guard close != 0, reader.byte(at: offset) == close else { return false }
            offset += 1
            defanged = true
        }
        let spacesBefore = reader.spaces(at: offset, limit: 2)
        offset += spacesBefore
        if spacesBefore > 0 { defanged = true }
        if reader.matches("[://]", at: offset) || reader.matches("[:]//", at: offset) {
            offset += 5
            defanged = true
        } else if reader.matches("://", at: offset) {
            offset += 3
        } else if reader.matches(":\\/\\/", at: offset) {
            offset += 5
        } else {
            return false
        }
        if reader.byte(at: offset) == UInt8(ascii: "/") {
            offset += 1
            defanged = true
        }
        let spacesAfter = reader.spaces(at: offset, limit: 2)
        if spacesAfter > 0, let next = reader.byte(at: offset + spacesAfter), isASCIIAlphanumeric(next) {
            offset += spacesAfter
            defanged = true
        }
        let mark: Mark = defanged ? .defanged : .original
        emit(scheme.name, mark)
        emit("://", mark)
        reader.index += offset
        return true
    }
}

/// The URL schemes Verdict reads.
enum URLScheme {
    case http, https, ftp, ftps, sftp

    var name: StaticString {
        switch self {
        case .http: "http"
        case .https: "https"
        case .ftp: "ftp"
        case .ftps: "ftps"
        case .sftp: "sftp"
        }
    }

    /// The scheme `word` spells, in any case; nil for any other word. Compared as the word's lowered bytes packed
    /// into one integer: asked for every word a `:` ends.
    init?(spelling word: Slice<UnsafeBufferPointer<UInt8>>) {
        guard word.count <= 5 else { return nil }
        var packed: UInt64 = 0
        for byte in word { packed = packed << 8 | UInt64(asciiLowercased(byte)) }
        switch packed {
        case 0x68_74_74_70: self = .http
        case 0x68_74_74_70_73: self = .https
        case 0x66_74_70: self = .ftp
        case 0x66_74_70_73: self = .ftps
        case 0x73_66_74_70: self = .sftp
        default: return nil
        }
    }

    /// The scheme `word` spells, written as it is or defanged (`hxxp`, `h__p`, `hzzzp`, `fxp`, `fxps`), in any case.
    static func reading(_ word: Slice<UnsafeBufferPointer<UInt8>>) -> (URLScheme, defanged: Bool)? {
        if let scheme = URLScheme(spelling: word) { return (scheme, false) }
        var body = word
        var secure = false
        if let last = body.last, asciiLowercased(last) == UInt8(ascii: "s") {
            secure = true
            body = body.dropLast()
        }
        if body.lazy.map(asciiLowercased).elementsEqual("fxp".utf8) { return (secure ? .ftps : .ftp, true) }
        // h + two or three masking characters + p
        guard body.count == 4 || body.count == 5, let first = body.first, let last = body.last,
            asciiLowercased(first) == UInt8(ascii: "h"), asciiLowercased(last) == UInt8(ascii: "p"),
            body.dropFirst().dropLast().allSatisfy(isSchemeMask)
        else { return nil }
        return (secure ? .https : .http, true)
    }

    /// What defangers put between a scheme's `h` and `p`.
    private static func isSchemeMask(_ byte: UInt8) -> Bool {
        switch asciiLowercased(byte) {
        case UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "_"), UInt8(ascii: "*"), UInt8(ascii: "z"): true
        default: false
        }
    }
}

@inline(__always)
func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
}

/// `byte` with an ASCII capital letter lowered; every other byte as it is.
@inline(__always)
func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
}

@inline(__always)
func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= 0x30 && byte <= 0x39
}

@inline(__always)
func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
    isASCIILetter(byte) || isASCIIDigit(byte)
}
