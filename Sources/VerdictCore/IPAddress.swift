/// An IPv4 address as a 32-bit number, parsed from dotted-decimal text.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) {
        self.value = value
    }

    /// Parses exactly four decimal octets (`0`-`255`, leading zeros read as decimal, as logs pad them).
    public init?(_ text: some StringProtocol) {
        // In place, without an array: every address found is parsed again to be assessed.
        var string = String(text)
        guard let parsed = string.withUTF8({ IPv4Address.parse(UnsafeMutableBufferPointer(mutating: $0)[...]) }) else {
            return nil
        }
        self = parsed
    }

    /// Parses a byte slice holding exactly one address.
    static func parse(_ bytes: Slice<UnsafeMutableBufferPointer<UInt8>>) -> IPv4Address? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var parts = 0
        for byte in bytes {
            if byte >= 0x30 && byte <= 0x39 {
                octet = octet * 10 + UInt32(byte - 0x30)
                digits += 1
                if digits > 3 || octet > 255 { return nil }
            } else if byte == 0x2E {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | octet
                parts += 1
                octet = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return IPv4Address(value << 8 | octet)
    }

    public var description: String {
        // Written digit by digit (at most 15 bytes, so the string is stored inline): extraction prints one per
        // address found, and interpolation costs several times more.
        String(unsafeUninitializedCapacity: 15) { buffer in
            var count = 0
            for shift in [24, 16, 8, 0] as [UInt32] {
                let octet = Int(value >> shift & 0xFF)
                if octet >= 100 {
                    buffer[count] = UInt8(0x30 + octet / 100)
                    count += 1
                }
                if octet >= 10 {
                    buffer[count] = UInt8(0x30 + octet / 10 % 10)
                    count += 1
                }
                buffer[count] = UInt8(0x30 + octet % 10)
                count += 1
                if shift > 0 {
                    buffer[count] = UInt8(ascii: ".")
                    count += 1
                }
            }
            return count
        }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address as two 64-bit halves, parsed from any RFC 4291 text form and printed in RFC 5952 form.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses an address, with an optional zone (`%eth0`, or `%25eth0` as URLs write it) that is dropped.
    public init?(_ text: some StringProtocol) {
        var bytes = Array(text.utf8)
        if let percent = bytes.firstIndex(of: 0x25) { bytes.removeSubrange(percent...) }
        guard let parsed = bytes.withUnsafeMutableBufferPointer({ IPv6Address.parse($0[...]) }) else { return nil }
        self = parsed
    }

    /// Parses a byte slice holding exactly one address without a zone.
    static func parse(_ bytes: Slice<UnsafeMutableBufferPointer<UInt8>>) -> IPv6Address? {
        var groups = [UInt16](repeating: 0, count: 8)
        var count = 0
        var gap = -1  // index in `groups` where `::` stands
        var index = bytes.startIndex
        let end = bytes.endIndex
        if index == end { return nil }
        if bytes[index] == 0x3A {
            guard index + 1 < end, bytes[index + 1] == 0x3A else { return nil }
            gap = 0
            index += 2
            if index == end { return IPv6Address(high: 0, low: 0) }
        }
        while index < end {
            // One group: hex digits, or a trailing dotted IPv4 address.
            let start = index
            var value: UInt32 = 0
            var digits = 0
            while index < end, let hex = hexValue(bytes[index]) {
                value = value << 4 | UInt32(hex)
                digits += 1
                index += 1
                if digits > 4 { return nil }
            }
            if index < end, bytes[index] == 0x2E {
                // Embedded IPv4: only as the last 32 bits.
                guard count <= 6, let v4 = IPv4Address.parse(bytes[start..<end]) else { return nil }
                groups[count] = UInt16(v4.value >> 16)
                groups[count + 1] = UInt16(v4.value & 0xFFFF)
                count += 2
                index = end
                break
            }
            guard digits > 0, count < 8 else { return nil }
            groups[count] = UInt16(value)
            count += 1
            if index == end { break }
            guard bytes[index] == 0x3A else { return nil }
            index += 1
            if index < end, bytes[index] == 0x3A {
                guard gap < 0 else { return nil }
                gap = count
                index += 1
                if index == end { break }
            } else if index == end {
                return nil  // a trailing single colon
            }
        }
        if gap >= 0 {
            guard count < 8 else { return nil }
            let tail = Array(groups[gap..<count])
            for position in gap..<8 { groups[position] = 0 }
            for (offset, group) in tail.enumerated() { groups[8 - tail.count + offset] = group }
        } else if count != 8 {
            return nil
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for position in 0..<4 { high = high << 16 | UInt64(groups[position]) }
        for position in 4..<8 { low = low << 16 | UInt64(groups[position]) }
        return IPv6Address(high: high, low: low)
    }

    /// The IPv4 address inside `::ffff:a.b.c.d`, which stands for that IPv4 address itself.
    public var mappedIPv4: IPv4Address? {
        guard high == 0, low >> 32 == 0xFFFF else { return nil }
        return IPv4Address(UInt32(truncatingIfNeeded: low))
    }

    var groups: [UInt16] {
        (0..<8).map { position in
            let half = position < 4 ? high : low
            return UInt16(truncatingIfNeeded: half >> (UInt64(3 - position % 4) * 16))
        }
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run (two or more, first if tied) of zero groups as `::`.
    public var description: String {
        let groups = self.groups
        var bestStart = -1
        var bestLength = 1
        var position = 0
        while position < 8 {
            if groups[position] == 0 {
                var length = 0
                while position + length < 8 && groups[position + length] == 0 { length += 1 }
                if length > bestLength {
                    bestStart = position
                    bestLength = length
                }
                position += length
            } else {
                position += 1
            }
        }
        var text = ""
        position = 0
        while position < 8 {
            if position == bestStart {
                text += "::"
                position += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[position], radix: 16)
            position += 1
        }
        return text
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}

/// A CIDR block of either family, as warninglists, allow-lists and the special-purpose registries hold them.
public enum IPNetwork: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address, prefix: Int)
    case v6(IPv6Address, prefix: Int)

    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a host route).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let prefix: Int?
        if parts.count == 2 {
            guard let value = Int(parts[1]) else { return nil }
            prefix = value
        } else {
            prefix = nil
        }
        if let address = IPv4Address(parts[0]) {
            let bits = prefix ?? 32
            guard (0...32).contains(bits) else { return nil }
            self = .v4(IPv4Address(address.value & IPNetwork.mask32(bits)), prefix: bits)
        } else if let address = IPv6Address(parts[0]) {
            let bits = prefix ?? 128
            guard (0...128).contains(bits) else { return nil }
            let (highMask, lowMask) = IPNetwork.mask128(bits)
            self = .v6(IPv6Address(high: address.high & highMask, low: address.low & lowMask), prefix: bits)
        } else {
            return nil
        }
    }

    /// The network of `prefix` bits that holds `address`.
    public init(containing address: IPv4Address, prefix: Int) {
        self = .v4(IPv4Address(address.value & IPNetwork.mask32(prefix)), prefix: prefix)
    }

    public init(containing address: IPv6Address, prefix: Int) {
        let (highMask, lowMask) = IPNetwork.mask128(prefix)
        self = .v6(IPv6Address(high: address.high & highMask, low: address.low & lowMask), prefix: prefix)
    }

    static func mask32(_ bits: Int) -> UInt32 {
        bits == 0 ? 0 : UInt32.max << UInt32(32 - bits)
    }

    static func mask128(_ bits: Int) -> (UInt64, UInt64) {
        if bits == 0 { return (0, 0) }
        if bits <= 64 { return (UInt64.max << UInt64(64 - bits), 0) }
        if bits == 128 { return (UInt64.max, UInt64.max) }
        return (UInt64.max, UInt64.max << UInt64(128 - bits))
    }

    public func contains(_ address: IPv4Address) -> Bool {
        guard case .v4(let network, let prefix) = self else { return false }
        return address.value & IPNetwork.mask32(prefix) == network.value
    }

    public func contains(_ address: IPv6Address) -> Bool {
        guard case .v6(let network, let prefix) = self else { return false }
        let (highMask, lowMask) = IPNetwork.mask128(prefix)
        return address.high & highMask == network.high && address.low & lowMask == network.low
    }

    public var description: String {
        switch self {
        case .v4(let address, let prefix): "\(address)/\(prefix)"
        case .v6(let address, let prefix): "\(address)/\(prefix)"
        }
    }
}
