import Testing

@testable import VerdictCore

struct IPAddressTests {
    @Test(arguments: [
        ("1.2.3.4", "1.2.3.4"), ("255.255.255.255", "255.255.255.255"), ("0.0.0.0", "0.0.0.0"),
        ("192.168.001.010", "192.168.1.10"),
    ])
    func ipv4Parses(input: String, canonical: String) {
        #expect(IPv4Address(input)?.description == canonical)
    }

    @Test(arguments: ["1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.1000", "1..2.3", ".1.2.3", "1.2.3.", "a.b.c.d", ""])
    func ipv4Rejects(input: String) {
        #expect(IPv4Address(input) == nil)
    }

    /// RFC 5952 §4: lowercase, leading zeros dropped, the longest (first if tied) run of two or more zero groups.
    @Test(arguments: [
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("0010::1", "10::1"),
        ("fe80::1%eth0", "fe80::1"), ("::ffff:1.2.3.4", "::ffff:102:304"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
    ])
    func ipv6PrintsInRFC5952Form(input: String, canonical: String) {
        #expect(IPv6Address(input)?.description == canonical)
    }

    @Test(arguments: [
        "1:1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::1", ":1:2", "1:2:", "g::1", ":::",
    ])
    func ipv6Rejects(input: String) {
        #expect(IPv6Address(input) == nil)
    }

    @Test func mappedAddressesUnmap() throws {
        #expect(IPv6Address("::ffff:93.184.216.34")?.mappedIPv4?.description == "93.184.216.34")
        #expect(IPv6Address("2001:db8::1")?.mappedIPv4 == nil)
        #expect(try IndicatorParser.parse("::ffff:93.184.216.34") == Indicator(type: .ipv4, value: "93.184.216.34"))
    }

    @Test func networksContainTheirAddressesOnly() throws {
        let v4 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(v4.contains(IPv4Address("10.255.1.2")!))
        #expect(!v4.contains(IPv4Address("11.0.0.1")!))
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(IPv6Address("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPv6Address("2001:db9::1")!))
        #expect(IPNetwork("1.2.3.4")?.description == "1.2.3.4/32")
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("1.2.3.4/33") == nil)
        #expect(IPNetwork("::/0")?.contains(IPv6Address("abcd::1")!) == true)
    }
}

struct SpecialPurposeTests {
    /// One address inside every IPv4 block of the IANA registry (and multicast, class E), with its reason.
    @Test(arguments: [
        ("0.1.2.3", "reserved:this-network"), ("10.0.0.50", "private"), ("100.64.0.1", "reserved:cgnat"),
        ("100.127.255.254", "reserved:cgnat"), ("127.0.0.1", "reserved:loopback"),
        ("169.254.1.1", "reserved:link-local"),
        ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.0.0.1", "reserved:ietf-protocol"),
        ("192.0.0.9", "reserved:anycast"), ("192.0.0.10", "reserved:anycast"), ("192.0.2.1", "reserved:documentation"),
        ("192.31.196.1", "reserved:as112"), ("192.52.193.1", "reserved:amt"), ("192.88.99.1", "reserved:6to4-relay"),
        ("192.168.1.1", "private"), ("192.175.48.1", "reserved:as112"), ("198.18.0.1", "reserved:benchmarking"),
        ("198.19.255.255", "reserved:benchmarking"), ("198.51.100.7", "reserved:documentation"),
        ("203.0.113.9", "reserved:documentation"), ("224.0.0.251", "reserved:multicast"),
        ("239.255.255.250", "reserved:multicast"), ("240.0.0.1", "reserved:future-use"),
        ("255.255.255.255", "reserved:broadcast"),
    ])
    func ipv4Reasons(address: String, reason: String) {
        #expect(SpecialPurposeAddresses.reason(for: IPv4Address(address)!) == reason)
    }

    @Test(arguments: [
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "172.15.255.255",
        "172.32.0.0", "192.0.1.1", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
        "223.255.255.255", "185.220.101.4",
    ])
    func publicIPv4HasNoReason(address: String) {
        #expect(SpecialPurposeAddresses.reason(for: IPv4Address(address)!) == nil)
    }

    @Test(arguments: [
        ("::", "reserved:unspecified"), ("::1", "reserved:loopback"), ("64:ff9b::1.2.3.4", "reserved:nat64"),
        ("64:ff9b:1::1", "reserved:nat64"), ("100::1", "reserved:discard-only"), ("2001::1", "reserved:teredo"),
        ("2001:2::1", "reserved:benchmarking"), ("2001:db8::1", "reserved:documentation"),
        ("3fff::1", "reserved:documentation"), ("2001:10::1", "reserved:ietf-protocol"),
        ("2001:20::1", "reserved:ietf-protocol"), ("2002:c000:0201::1", "reserved:documentation"),
        ("2002:0a00:0001::1", "private"), ("2002:5db8:d822::1", "reserved:6to4"), ("5f00::1", "reserved:srv6-sid"),
        ("fc00::1", "private"), ("fd12:3456::1", "private"), ("fe80::1", "reserved:link-local"),
        ("fec0::1", "reserved:site-local"), ("ff02::1", "reserved:multicast"), ("::1.2.3.4", "reserved:ietf-reserved"),
        ("4000::1", "reserved:ietf-reserved"), ("e000::1", "reserved:ietf-reserved"),
    ])
    func ipv6Reasons(address: String, reason: String) {
        #expect(SpecialPurposeAddresses.reason(for: IPv6Address(address)!) == reason)
    }

    @Test(arguments: ["2606:4700:4700::1111", "2a0b:4140:2b09::5", "2001:4860:4860::8888", "2c0f:fb50::1", "3ffe::1"])
    func publicIPv6HasNoReason(address: String) {
        #expect(SpecialPurposeAddresses.reason(for: IPv6Address(address)!) == nil)
    }

    @Test func tunnelAddressesGiveUpTheirIPv4Host() {
        #expect(SpecialPurposeAddresses.embeddedIPv4(IPv6Address("2002:5db8:d822::1")!)?.description == "93.184.216.34")
        // Teredo stores the client address inverted in the last 32 bits.
        #expect(
            SpecialPurposeAddresses.embeddedIPv4(IPv6Address("2001:0:4136:e378:8000:63bf:a247:27dd")!)?.description
                == "93.184.216.34"
        )
        let found = TextExtractor().indicators(in: "peer 2002:5db8:d822::1 connected")
        #expect(
            found == [
                Indicator(type: .ipv6, value: "2002:5db8:d822::1"), Indicator(type: .ipv4, value: "93.184.216.34"),
            ]
        )
    }

    @Test(arguments: ["0.0.0.0", "255.255.255.255", "10.0.0.1", "100.20.3.45", "9.99.199.200", "1.10.100.255"])
    func ipv4PrintsItsDottedDecimalForm(text: String) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.description == text)
    }

    /// Public addresses skip the special-purpose table by their first octet: the table must cover every block.
    @Test func firstOctetsCoverEverySpecialPurposeBlock() {
        for entry in SpecialPurposeAddresses.ipv4 {
            guard case .v4(let network, let prefix) = entry.network else { continue }
            let last = IPv4Address(network.value | (prefix == 32 ? 0 : UInt32.max >> UInt32(prefix)))
            #expect(SpecialPurposeAddresses.reason(for: network) != nil, "\(entry.network)")
            #expect(SpecialPurposeAddresses.reason(for: last) != nil, "\(entry.network)")
        }
        #expect(SpecialPurposeAddresses.reason(for: IPv4Address("45.77.1.2")!) == nil)
        #expect(SpecialPurposeAddresses.reason(for: IPv4Address("240.0.0.1")!) == "reserved:future-use")
    }
}
