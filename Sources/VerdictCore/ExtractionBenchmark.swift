/// The extraction benchmark behind `verdict bench extract`: throughput on mixed log and report text,
/// alerts per second on realistic Wazuh alerts, and the slowest of a set of adversarial inputs.
///
/// The corpora are generated from a fixed seed, so every run measures the same bytes.
public struct ExtractionBenchmark: Sendable {
    /// One kind of text, extracted as one document a call (as `verdict extract --text` reads a file) or, for
    /// logs, one call a line.
    public struct TextMeasurement: Sendable {
        public var name: String
        public var bytes: Int
        public var seconds: Double
        public var indicators: Int

        public var megabytesPerSecond: Double { Double(bytes) / 1_048_576 / seconds }
    }

    public struct Report: Sendable {
        public var text: [TextMeasurement]
        public var alertCount: Int
        public var alertSeconds: Double
        public var alertIndicators: Int
        public var alertOutputBytes: Int
        public var adversarial: [(name: String, bytes: Int, seconds: Double)]

        public var alertsPerSecond: Double { Double(alertCount) / alertSeconds }
    }

    public var textMegabytes: Int
    public var alertCount: Int
    /// Each measurement runs this many times and the fastest run counts: on a shared machine the slower
    /// runs measure the neighbours, not the code.
    public var repetitions: Int

    public init(textMegabytes: Int = 4, alertCount: Int = 20_000, repetitions: Int = 5) {
        self.textMegabytes = textMegabytes
        self.alertCount = alertCount
        self.repetitions = max(1, repetitions)
    }

    static func fastest(of repetitions: Int, _ work: () -> Void) -> Double {
        let clock = ContinuousClock()
        return (0..<repetitions).map { _ in clock.measure(work).seconds }.min()!
    }

    /// Measures one text as `verdict extract --text` does: the whole of it in one call, the fastest of the runs.
    public func measure(name: String, text: [UInt8]) -> TextMeasurement {
        let extractor = IndicatorExtractor()
        var indicators = 0
        let seconds = ExtractionBenchmark.fastest(of: repetitions) {
            indicators = extractor.extract(text: String(decoding: text, as: UTF8.self)).indicators.count
        }
        return TextMeasurement(name: name, bytes: text.count, seconds: seconds, indicators: indicators)
    }

    public func run() -> Report {
        let extractor = IndicatorExtractor()
        let size = textMegabytes << 20
        let logs = ExtractionBenchmark.mixedText(bytes: size)
        var logIndicators = 0
        let logTime = ExtractionBenchmark.fastest(of: repetitions) {
            logIndicators = 0
            for line in logs.split(separator: 0x0A) {
                logIndicators += extractor.extract(text: String(decoding: line, as: UTF8.self)).indicators.count
            }
        }
        var text = [
            TextMeasurement(
                name: "log lines, one call a line",
                bytes: logs.count,
                seconds: logTime,
                indicators: logIndicators
            )
        ]
        text.append(measure(name: "logs as one document", text: logs))
        for kind in ReportCorpus.Kind.allCases {
            text.append(measure(name: kind.rawValue, text: ReportCorpus.text(kind, bytes: size)))
        }

        let alerts = ExtractionBenchmark.alertLines(count: alertCount)
        let alertExtractor = IndicatorExtractor(maxPerType: 20)
        var alertIndicators = 0
        var outputBytes = 0
        let alertTime = ExtractionBenchmark.fastest(of: repetitions) {
            alertIndicators = 0
            outputBytes = 0
            for line in alerts {
                // Parse, extract, suppress and write the output line, as `verdict extract --alerts` does.
                guard let result = try? alertExtractor.extract(alertLine: line) else { continue }
                alertIndicators += result.indicators.count
                outputBytes += result.jsonLine().utf8.count
            }
        }

        var adversarial: [(name: String, bytes: Int, seconds: Double)] = []
        for (name, input) in ExtractionBenchmark.adversarialInputs() {
            let elapsed = ExtractionBenchmark.fastest(of: repetitions) { _ = extractor.extract(text: input) }
            adversarial.append((name, input.utf8.count, elapsed))
        }
        return Report(
            text: text,
            alertCount: alerts.count,
            alertSeconds: alertTime,
            alertIndicators: alertIndicators,
            alertOutputBytes: outputBytes,
            adversarial: adversarial
        )
    }

    /// A deterministic pseudo-random generator (SplitMix64), so corpora are the same on every run.
    public struct SeededGenerator: RandomNumberGenerator {
        public var state: UInt64

        public init(state: UInt64) {
            self.state = state
        }

        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }
    }

    static func publicIPv4(_ random: inout SeededGenerator) -> String {
        "\(Int.random(in: 11...99, using: &random)).\(Int.random(in: 0...255, using: &random))."
            + "\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 1...254, using: &random))"
    }

    static func hex(_ count: Int, _ random: inout SeededGenerator) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &random)! })
    }

    static func word(_ random: inout SeededGenerator) -> String {
        ["update", "secure", "login", "cdn", "mail", "portal", "files", "api", "track", "verify"].randomElement(
            using: &random
        )! + String(Int.random(in: 1...999, using: &random))
    }

    /// Syslog, web access logs, Windows events and threat-report prose with defanged indicators.
    static func mixedText(bytes: Int) -> [UInt8] {
        var random = SeededGenerator(state: 42)
        var output: [UInt8] = []
        output.reserveCapacity(bytes + 1024)
        while output.count < bytes {
            let ip = publicIPv4(&random)
            let domain =
                word(&random) + "-" + word(&random) + "." + ["com", "net", "ru", "xyz", "info"].randomElement(
                    using: &random
                )!
            let line: String
            switch Int.random(in: 0..<6, using: &random) {
            case 0:
                line =
                    "Nov 22 13:0\(Int.random(in: 0...9, using: &random)):01 web-01 sshd[\(Int.random(in: 1000...9999, using: &random))]: Failed password for invalid user admin from \(ip) port \(Int.random(in: 1024...65535, using: &random)) ssh2"
            case 1:
                line =
                    "\(ip) - - [22/Nov/2026:13:00:01 +0000] \"GET /wp-login.php?redirect=http://\(domain)/x HTTP/1.1\" 404 512 \"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36\""
            case 2:
                line =
                    "Process C:\\Windows\\System32\\rundll32.exe loaded C:\\Users\\bob\\AppData\\Local\\Temp\\inv.dll SHA256=\(hex(64, &random)) and connected to \(ip):443 (System.Net.WebClient)"
            case 3:
                line =
                    "The actor staged payloads at hxxps://\(domain.replacingDots())/dl/loader.bin and used \(ip.replacingDots()) as C2; contact abuse[at]\(domain.replacingDots()) for details."
            case 4:
                line =
                    "dns query \(word(&random)).\(domain) type A answer ::ffff:\(ip); resolver 10.0.0.53 user.name=bob version 2.4.1"
            default:
                line =
                    "2026-11-22T13:00:01.123Z INFO app.service: request id=\(hex(32, &random)) took 12 ms; config loaded from /etc/app/settings.yml at 12:00:01"
            }
            output.append(contentsOf: line.utf8)
            output.append(0x0A)
        }
        return output
    }

    /// Alerts shaped like Wazuh 4.x output: sshd, web, Sysmon 1/3/22, FIM, Suricata.
    static func alertLines(count: Int) -> [[UInt8]] {
        var random = SeededGenerator(state: 7)
        return (0..<count).map { index in
            let ip = publicIPv4(&random)
            let domain = word(&random) + "." + word(&random) + ".com"
            let head =
                "{\"timestamp\":\"2026-11-22T13:00:01.000+0000\",\"agent\":{\"id\":\"001\",\"name\":\"web-01\",\"ip\":\"10.0.0.5\"},\"manager\":{\"name\":\"wazuh-manager\"},\"id\":\"1700000000.\(index)\",\"cluster\":{\"name\":\"wazuh\",\"node\":\"node01\"}"
            let body: String
            switch index % 6 {
            case 0:
                body =
                    ",\"rule\":{\"level\":10,\"description\":\"sshd: brute force trying to get access to the system. Non existent user.\",\"id\":\"5712\",\"mitre\":{\"id\":[\"T1110\"],\"tactic\":[\"Credential Access\"]},\"frequency\":8,\"groups\":[\"syslog\",\"sshd\",\"authentication_failures\"]},\"full_log\":\"Nov 22 13:00:01 web-01 sshd[2020]: Invalid user admin from \(ip) port 51234\",\"predecoder\":{\"program_name\":\"sshd\",\"timestamp\":\"Nov 22 13:00:01\",\"hostname\":\"web-01\"},\"decoder\":{\"parent\":\"sshd\",\"name\":\"sshd\"},\"data\":{\"srcip\":\"\(ip)\",\"srcport\":\"51234\",\"srcuser\":\"admin\"},\"location\":\"/var/log/auth.log\"}"
            case 1:
                body =
                    ",\"rule\":{\"level\":6,\"description\":\"Web server 400 error code.\",\"id\":\"31101\",\"groups\":[\"web\",\"accesslog\",\"attack\"]},\"full_log\":\"\(ip) - - [22/Nov/2026:13:00:01 +0000] \\\"GET /index.php?u=http://\(domain)/shell.txt HTTP/1.1\\\" 404 209 \\\"-\\\" \\\"curl/7.68.0\\\"\",\"decoder\":{\"name\":\"web-accesslog\"},\"data\":{\"protocol\":\"GET\",\"srcip\":\"\(ip)\",\"id\":\"404\",\"url\":\"/index.php?u=http://\(domain)/shell.txt\"},\"location\":\"/var/log/nginx/access.log\"}"
            case 2:
                body =
                    ",\"rule\":{\"level\":3,\"description\":\"Sysmon - Event 1: Process creation\",\"id\":\"61603\",\"groups\":[\"windows\",\"sysmon\"]},\"decoder\":{\"name\":\"windows_eventchannel\"},\"data\":{\"win\":{\"system\":{\"providerName\":\"Microsoft-Windows-Sysmon\",\"eventID\":\"1\",\"computer\":\"DESKTOP-01\"},\"eventdata\":{\"image\":\"C:\\\\Users\\\\bob\\\\Downloads\\\\invoice.exe\",\"commandLine\":\"invoice.exe -c http://\(domain)/gate.php\",\"hashes\":\"SHA1=\(hex(40, &random)),MD5=\(hex(32, &random)),SHA256=\(hex(64, &random)),IMPHASH=\(hex(32, &random))\",\"parentImage\":\"C:\\\\Windows\\\\explorer.exe\",\"user\":\"DESKTOP-01\\\\bob\"}}},\"location\":\"EventChannel\"}"
            case 3:
                body =
                    ",\"rule\":{\"level\":3,\"description\":\"Sysmon - Event 3: Network connection\",\"id\":\"61605\",\"groups\":[\"windows\",\"sysmon\"]},\"decoder\":{\"name\":\"windows_eventchannel\"},\"data\":{\"win\":{\"system\":{\"eventID\":\"3\"},\"eventdata\":{\"image\":\"C:\\\\Windows\\\\System32\\\\rundll32.exe\",\"protocol\":\"tcp\",\"sourceIp\":\"10.0.0.5\",\"sourcePort\":\"49822\",\"destinationIp\":\"\(ip)\",\"destinationHostname\":\"\(domain)\",\"destinationPort\":\"443\"}}},\"location\":\"EventChannel\"}"
            case 4:
                body =
                    ",\"rule\":{\"level\":7,\"description\":\"Integrity checksum changed.\",\"id\":\"550\",\"groups\":[\"ossec\",\"syscheck\",\"syscheck_file\"]},\"full_log\":\"File '/usr/bin/ls' modified\\nMode: realtime\\nChanged attributes: size,md5,sha1,sha256\\n\",\"syscheck\":{\"path\":\"/usr/bin/ls\",\"mode\":\"realtime\",\"size_after\":\"142144\",\"md5_after\":\"\(hex(32, &random))\",\"sha1_after\":\"\(hex(40, &random))\",\"sha256_after\":\"\(hex(64, &random))\",\"event\":\"modified\"},\"decoder\":{\"name\":\"syscheck_integrity_changed\"},\"location\":\"syscheck\"}"
            default:
                body =
                    ",\"rule\":{\"level\":8,\"description\":\"Suricata: Alert - ET MALWARE Possible C2\",\"id\":\"86601\",\"groups\":[\"ids\",\"suricata\"]},\"decoder\":{\"name\":\"json\"},\"data\":{\"timestamp\":\"2026-11-22T13:00:01.000000+0000\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.7\",\"src_port\":\"50111\",\"dest_ip\":\"\(ip)\",\"dest_port\":\"80\",\"proto\":\"TCP\",\"http\":{\"hostname\":\"\(domain)\",\"url\":\"/beacon\",\"http_user_agent\":\"Mozilla/4.0\"},\"alert\":{\"signature\":\"ET MALWARE Possible C2\",\"signature_id\":\"2030000\"}},\"location\":\"/var/log/suricata/eve.json\"}"
            }
            return Array((head + body).utf8)
        }
    }

    /// Inputs that make naive extractors (backtracking regexes, rescans) slow: each about 1 MB.
    public static func adversarialInputs() -> [(String, String)] {
        let size = 1 << 20
        func repeated(_ unit: String) -> String { String(repeating: unit, count: size / unit.utf8.count) }
        return [
            ("1 MB of 'A'", repeated("A")),
            ("1 MB of hex digits", repeated("0123456789abcdef")),
            ("'1.' repeated", repeated("1.")),
            ("'a.' repeated", repeated("a.")),
            ("'a-' repeated", repeated("a-")),
            ("'a:' repeated", repeated("a:")),
            ("'1:' repeated", repeated("1:")),
            ("'::' repeated", repeated("::")),
            ("'[.]' repeated", repeated("a[.]")),
            ("' dot ' repeated", repeated("a dot ")),
            ("'@' repeated", repeated("@")),
            ("'a@' repeated", repeated("a@")),
            ("'hxxp://' repeated", repeated("hxxp://")),
            ("one 1 MB URL", "http://example.com/" + repeated("a")),
            ("one 1 MB domain-shaped word", repeated("ab-") + ".com"),
            ("'((((' then a URL", repeated("(") + "http://x.com/"),
            ("1 MB of non-ASCII letters", repeated("ж")),
            ("1 MB of invalid UTF-8", String(decoding: [UInt8](repeating: 0xFF, count: size), as: UTF8.self)),
        ]
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension String {
    fileprivate func replacingDots() -> String {
        split(separator: ".", omittingEmptySubsequences: false).joined(separator: "[.]")
    }
}
