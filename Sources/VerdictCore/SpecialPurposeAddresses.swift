/// The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates), plus the other
/// blocks that never name a host on the public internet (multicast, class E, the unassigned IPv6 space).
///
/// A value in one of these blocks is never sent to a threat-intel source: it says nothing about the
/// outside world and leaks internal addressing. The reason is `private` for the RFC 1918 and unique-local
/// blocks, as SOC tools call them, and `reserved:<kind>` for the rest.
public enum SpecialPurposeAddresses {
    struct Entry {
        let network: IPNetwork
        let reason: String
    }

    /// Most specific blocks first, so that the first match is the right reason.
    static let ipv4: [Entry] = [
        ("192.0.0.9/32", "reserved:anycast"),  // Port Control Protocol anycast
        ("192.0.0.10/32", "reserved:anycast"),  // TURN anycast
        ("255.255.255.255/32", "reserved:broadcast"),
        ("192.0.0.0/24", "reserved:ietf-protocol"),
        ("192.0.2.0/24", "reserved:documentation"),
        ("198.51.100.0/24", "reserved:documentation"),
        ("203.0.113.0/24", "reserved:documentation"),
        ("192.31.196.0/24", "reserved:as112"),
        ("192.52.193.0/24", "reserved:amt"),
        ("192.88.99.0/24", "reserved:6to4-relay"),
        ("192.175.48.0/24", "reserved:as112"),
        ("198.18.0.0/15", "reserved:benchmarking"),
        ("169.254.0.0/16", "reserved:link-local"),
        ("172.16.0.0/12", "private"),
        ("100.64.0.0/10", "reserved:cgnat"),
        ("10.0.0.0/8", "private"),
        ("127.0.0.0/8", "reserved:loopback"),
        ("192.168.0.0/16", "private"),
        ("0.0.0.0/8", "reserved:this-network"),
        ("224.0.0.0/4", "reserved:multicast"),
        ("240.0.0.0/4", "reserved:future-use"),
    ].map { Entry(network: IPNetwork($0.0)!, reason: $0.1) }

    static let ipv6: [Entry] = [
        ("::/128", "reserved:unspecified"),
        ("::1/128", "reserved:loopback"),
        ("2001:1::1/128", "reserved:anycast"),
        ("2001:1::2/128", "reserved:anycast"),
        ("2001:1::3/128", "reserved:anycast"),
        ("64:ff9b::/96", "reserved:nat64"),
        ("2001:2::/48", "reserved:benchmarking"),
        ("5f00::/16", "reserved:srv6-sid"),
        ("100::/64", "reserved:discard-only"),
        ("2001::/32", "reserved:teredo"),  // carries no stable identity; see `embeddedIPv4`
        ("2001:db8::/32", "reserved:documentation"),
        ("3fff::/20", "reserved:documentation"),
        ("2001::/23", "reserved:ietf-protocol"),
        ("2002::/16", "reserved:6to4"),  // see `embeddedIPv4`
        ("64:ff9b:1::/48", "reserved:nat64"),
        ("fe80::/10", "reserved:link-local"),
        ("fec0::/10", "reserved:site-local"),
        ("fc00::/7", "private"),
        ("ff00::/8", "reserved:multicast"),
        ("::/8", "reserved:ietf-reserved"),  // includes the IPv4-compatible and old mapped forms
        ("100::/8", "reserved:ietf-reserved"),
        ("200::/7", "reserved:ietf-reserved"),
        ("400::/6", "reserved:ietf-reserved"),
        ("800::/5", "reserved:ietf-reserved"),
        ("1000::/4", "reserved:ietf-reserved"),
        ("4000::/3", "reserved:ietf-reserved"),
        ("6000::/3", "reserved:ietf-reserved"),
        ("8000::/3", "reserved:ietf-reserved"),
        ("a000::/3", "reserved:ietf-reserved"),
        ("c000::/3", "reserved:ietf-reserved"),
        ("e000::/4", "reserved:ietf-reserved"),
        ("f000::/5", "reserved:ietf-reserved"),
        ("f800::/6", "reserved:ietf-reserved"),
        ("fe00::/9", "reserved:ietf-reserved"),
    ].map { Entry(network: IPNetwork($0.0)!, reason: $0.1) }

    /// Why `address` is not a public unicast address, or nil when it is one.
    public static func reason(for address: IPv4Address) -> String? {
        // Most addresses found are public: their first octet is under no special-purpose block.
        guard ipv4FirstOctets[Int(address.value >> 24)] else { return nil }
        return ipv4.first { $0.network.contains(address) }?.reason
    }

    /// Whether some block of `ipv4` holds addresses starting with each first octet.
    static let ipv4FirstOctets: [Bool] = {
        var octets = [Bool](repeating: false, count: 256)
        for entry in ipv4 {
            guard case .v4(let network, let prefix) = entry.network else { continue }
            let first = Int(network.value >> 24)
            let span = prefix >= 8 ? 1 : 1 << (8 - prefix)
            for octet in first..<(first + span) { octets[octet] = true }
        }
        return octets
    }()

    /// Why `address` is not a public unicast address, or nil when it is one.
    ///
    /// 6to4 (`2002:a.b.c.d::/48`) addresses inherit the reason of the IPv4 address they embed: a 6to4
    /// address around `10.1.2.3` is as private as `10.1.2.3`. Other 6to4 and all Teredo addresses are
    /// still reported as reserved, since the public host they stand for is the embedded IPv4 address,
    /// which extraction reports on its own.
    public static func reason(for address: IPv6Address) -> String? {
        if address.high >> 48 == 0x2002, let embedded = embeddedIPv4(address), let inner = reason(for: embedded) {
            return inner
        }
        return ipv6.first { $0.network.contains(address) }?.reason
    }

    /// The IPv4 address a 6to4 (`2002::/16`) or Teredo (`2001::/32`, client address inverted) address embeds.
    public static func embeddedIPv4(_ address: IPv6Address) -> IPv4Address? {
        if address.high >> 48 == 0x2002 {
            return IPv4Address(UInt32(truncatingIfNeeded: address.high >> 16))
        }
        if address.high >> 32 == 0x2001_0000 {
            return IPv4Address(~UInt32(truncatingIfNeeded: address.low))
        }
        return nil
    }
}
