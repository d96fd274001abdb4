/// Threat-report text for `verdict bench extract`, generated from a fixed seed: the prose, IOC lists, tables and
/// links that vendors' reports (ESET, Avast, Unit 42 and the like) are made of, with their defangs, file names,
/// versions, technique ids and detection names.
public enum ReportCorpus {
    public enum Kind: String, CaseIterable, Sendable {
        case prose = "report prose"
        case iocLists = "IOC lists"
        case tables = "IOC tables"
        case links = "links and defanged URLs"
        case reports = "reports (all of the above, mixed)"
    }

    /// About `bytes` bytes of one kind of report text.
    public static func text(_ kind: Kind, bytes: Int) -> [UInt8] {
        var generator = Generator(random: ExtractionBenchmark.SeededGenerator(state: 1_190 &+ UInt64(kind.seedOffset)))
        var output: [UInt8] = []
        output.reserveCapacity(bytes + 4096)
        while output.count < bytes {
            let section: String
            switch kind {
            case .prose: section = generator.paragraph()
            case .iocLists: section = generator.iocList()
            case .tables: section = generator.table()
            case .links: section = generator.links()
            case .reports:
                switch generator.int(0..<10) {
                case 0..<5: section = generator.paragraph()
                case 5, 6: section = generator.iocList()
                case 7, 8: section = generator.table()
                default: section = generator.links()
                }
            }
            output.append(contentsOf: section.utf8)
            output.append(contentsOf: "\n\n".utf8)
        }
        return output
    }

    struct Generator {
        var random: ExtractionBenchmark.SeededGenerator

        mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &random) }
        mutating func pick(_ items: [String]) -> String { items.randomElement(using: &random)! }
        mutating func hex(_ count: Int) -> String { ExtractionBenchmark.hex(count, &random) }
        mutating func ip() -> String { ExtractionBenchmark.publicIPv4(&random) }

        mutating func domain() -> String {
            pick(["update", "cdn", "secure", "login", "docs", "mail", "api", "static", "portal", "files"])
                + pick(["-service", "-check", "soft", "cloud", "-online", "hub", "-sync", ""])
                + String(int(1..<99)) + "." + pick(["com", "net", "org", "info", "xyz", "top", "ru", "online", "site"])
        }

        mutating func defanged(_ value: String) -> String {
            switch int(0..<4) {
            case 0: value.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "[.]")
            case 1:
                value.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".") + "[.]"
                    + value.split(separator: ".").last!
            case 2: value.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "(.)")
            default: value
            }
        }

        mutating func path() -> String {
            "/" + pick(["wp-content", "static", "dl", "api/v2", "gate", "images", "upload", "assets/js"]) + "/"
                + pick(["update.php", "loader.bin", "index.html", "config.dat", "a.jpg", "payload", "check?id="])
                + (int(0..<3) == 0 ? String(int(100..<99_999)) : "")
        }

        mutating func fileName() -> String {
            pick([
                "invoice", "setup", "update", "document", "scan", "payment", "loader", "svchost", "installer", "report",
            ])
                + pick(["_2024", "-v2", "", "_final", "64"])
                + pick([".exe", ".dll", ".zip", ".cab", ".js", ".lnk", ".iso", ".docm", ".pdf.exe", ".msi", ".sh"])
        }

        mutating func sentence() -> String {
            let subject = pick([
                "The loader", "This backdoor", "The threat actor", "The campaign", "The dropper", "The implant",
                "Our telemetry", "The second stage", "The malicious document", "The operators",
            ])
            let verb = pick([
                "downloads its payload from", "contacts", "beacons to", "was observed connecting to",
                "resolves", "exfiltrates data to", "uses", "was first seen on", "communicates with",
            ])
            let object: String
            switch int(0..<9) {
            case 0: object = defanged(domain())
            case 1: object = defanged(ip())
            case 2: object = "hxxps://" + defanged(domain()) + path()
            case 3: object = "a file named \(fileName()) (SHA-256 \(hex(64)))"
            case 4:
                object =
                    "version \(int(1..<9)).\(int(0..<20)).\(int(0..<99)) of the tool, as shown in Figure \(int(1..<12))"
            case 5: object = "the technique T\(int(1001..<1600)).00\(int(1..<9)) (CVE-2024-\(int(1000..<50_000)))"
            case 6: object = "C:\\Users\\Public\\\(fileName()) and %APPDATA%\\Microsoft\\\(fileName())"
            case 7:
                object = "port \(int(80..<9000)) on \(ip()) between 12:\(int(10..<59)):\(int(10..<59)) and 14:05 UTC"
            default:
                object =
                    "the \(pick(["Win32/Agent.AFX", "Trojan.GenericKD.4815", "HEUR:Trojan.Win32.Generic", "Backdoor.MSIL.Remcos"])) family"
            }
            let tail = pick([
                ".", " in most of the samples we analysed.", ", which is consistent with earlier reports.",
                " after a delay of 30 seconds.", "; see the appendix for the full list.", " (see Table 2).",
            ])
            return subject + " " + verb + " " + object + tail
        }

        mutating func paragraph() -> String {
            var sentences: [String] = []
            for _ in 0..<int(3..<8) {
                if int(0..<3) == 0 {
                    sentences.append(
                        pick([
                            "In March 2024 we discovered a new campaign targeting government organisations in Europe.",
                            "The attackers relied on spearphishing e-mails with malicious attachments and links.",
                            "Persistence is achieved through a scheduled task that runs every 15 minutes.",
                            "The configuration is encrypted with RC4 and the key is stored in the resource section.",
                            "We attribute this activity with medium confidence to the group tracked as APT-C-23.",
                            "Victims were mostly located in Ukraine, Poland and the Czech Republic.",
                        ])
                    )
                } else {
                    sentences.append(sentence())
                }
            }
            return sentences.joined(separator: " ")
        }

        mutating func iocList() -> String {
            var lines = [pick(["## Indicators of compromise", "### Network", "IoCs", "### Files", "== IOCs"])]
            for _ in 0..<int(8..<30) {
                switch int(0..<6) {
                case 0: lines.append(hex(64))
                case 1: lines.append(hex(int(0..<2) == 0 ? 40 : 32))
                case 2: lines.append(defanged(domain()))
                case 3: lines.append(defanged(ip()) + (int(0..<2) == 0 ? ":\(int(80..<9000))" : ""))
                case 4: lines.append("hxxp://" + defanged(domain()) + path())
                default:
                    lines.append(
                        "- " + defanged(domain()) + " - " + pick(["C&C server", "download server", "phishing"])
                    )
                }
            }
            return lines.joined(separator: "\n")
        }

        mutating func table() -> String {
            switch int(0..<3) {
            case 0:
                var lines = ["| SHA-256 | File name | Detection |", "|---|---|---|"]
                for _ in 0..<int(5..<20) {
                    lines.append(
                        "| \(hex(64)) | \(fileName()) | \(pick(["Win32/Agent.ABC", "JS/TrojanDownloader.Agent", "MSIL/Spy.Agent.DTX", "LNK/Agent.ZZ"])) |"
                    )
                }
                return lines.joined(separator: "\n")
            case 1:
                var lines = ["[cols=\"1,1,2\"]", "|===", "|IP |Domain |Comment", ""]
                for _ in 0..<int(5..<20) {
                    lines.append(
                        "|\(defanged(ip())) |\(defanged(domain())) |\(pick(["C&C", "Distribution", "Exfiltration"])) server"
                    )
                }
                lines.append("|===")
                return lines.joined(separator: "\n")
            default:
                var lines = ["sha1,filename,first_seen,size"]
                for _ in 0..<int(5..<20) {
                    lines.append(
                        "\(hex(40)),\(fileName()),2024-0\(int(1..<10))-1\(int(0..<10)) 1\(int(0..<10)):2\(int(0..<10)):00,\(int(1000..<900_000))"
                    )
                }
                return lines.joined(separator: "\n")
            }
        }

        mutating func links() -> String {
            var lines: [String] = []
            for _ in 0..<int(4..<12) {
                let host = domain()
                switch int(0..<5) {
                case 0:
                    lines.append("* https://\(host)\(path())[\(pick(["Report", "Analysis of the loader", "Part 2"]))]")
                case 1:
                    lines.append("[\(pick(["blog post", "earlier research", "advisory"]))](https://\(host)\(path()))")
                case 2: lines.append("See <https://\(host)\(path())> for details.")
                case 3: lines.append("hxxps[://]\(defanged(host))\(path())")
                default:
                    lines.append(
                        "https://\(host)/\(pick(["en", "blog", "research"]))/\(pick(["a", "b"]))/[\(pick(["Label", "PDF"]))]"
                    )
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}

extension ReportCorpus.Kind {
    /// A per-kind seed offset, fixed so the corpora do not change when kinds are added.
    fileprivate var seedOffset: Int {
        switch self {
        case .prose: 1
        case .iocLists: 2
        case .tables: 3
        case .links: 4
        case .reports: 5
        }
    }
}
