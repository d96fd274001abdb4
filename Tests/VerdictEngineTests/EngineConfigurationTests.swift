import Foundation
import Testing
import VerdictCore
import VerdictEngine
import VerdictSources

struct EngineConfigurationTests {
    func load(_ environment: [String: String], yaml: String? = nil) async throws -> EngineConfiguration {
        var environment = environment
        if let yaml {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "verdict-\(UUID().uuidString).yaml"
            ).path
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
            environment["VERDICT_CONFIG"] = path
        }
        return try await EngineConfiguration.load(environment: environment)
    }

    func source(_ configuration: EngineConfiguration, _ name: String) -> SourceConfiguration {
        configuration.sources.first { $0.name == name }!
    }

    /// A new verdict.yaml is empty or all comments (`verdict wazuh install` writes one so): no settings, no error.
    @Test func anEmptyOrCommentedSettingsFileHoldsNoSettings() async throws {
        for yaml in ["", "\n", "# virustotal:\n#   api_key: \"...\"\n"] {
            let configuration = try await load(["VERDICT_DATA_DIR": "/var/lib/verdict"], yaml: yaml)
            #expect(source(configuration, "virustotal").offReason == "no API key: set VERDICT_VIRUSTOTAL_API_KEY")
            #expect(configuration.feeds.isEmpty)
        }
        await #expect {
            _ = try await load([:], yaml: "virustotal: [unclosed\n")
        } throws: { error in
            String(describing: error).contains("is not valid YAML")
        }
    }

    /// One descriptor per outside source: what it makes is named as it is, and its key turns it on.
    @Test func everyCatalogSourceIsMadeAndTurnedOnByItsKey() async throws {
        for descriptor in SourceCatalog.outside {
            let made = descriptor.make(
                ProviderSettings(apiKey: "k", baseURL: "http://127.0.0.1:9"),
                ProviderHTTPClient()
            )
            #expect(made.name == descriptor.name && made.isExternal && !made.supportedTypes.isEmpty)
            let off = try await load(["VERDICT_DATA_DIR": "/var/lib/verdict", "VERDICT_INTERNETDB_ENABLED": "false"])
            if descriptor.keyless {
                #expect(source(off, descriptor.name).offReason?.hasPrefix("disabled by") == true)
                continue
            }
            #expect(
                source(off, descriptor.name).offReason?.contains(descriptor.keyVariable) == true,
                "\(descriptor.name)"
            )
            var environment = ["VERDICT_DATA_DIR": "/var/lib/verdict", descriptor.keyVariable: "k"]
            if descriptor.defaultBaseURL == nil {
                environment["VERDICT_\(descriptor.name.uppercased())_URL"] = "https://x.example"
            }
            #expect(source(try await load(environment), descriptor.name).isOn, "\(descriptor.name)")
        }
        #expect(EngineConfiguration.sourceNames.last == "local" && EngineConfiguration.sourceNames.contains("crowdsec"))
        #expect(EngineConfiguration.sourceKeySettings.contains("VERDICT_CROWDSEC_API_KEY"))
        #expect(
            EngineConfiguration.sourceKeySettings.contains(
                "VERDICT_ABUSECH_API_KEY (urlhaus, threatfox, malwarebazaar)"
            )
        )
    }

    @Test func sourcesAreOnOnlyWithTheirKeys() async throws {
        let configuration = try await load([
            "VERDICT_VIRUSTOTAL_API_KEY": "vt-key", "VERDICT_ABUSECH_API_KEY": "abuse-key",
            "VERDICT_THREATFOX_API_KEY": "own-threatfox-key", "VERDICT_DATA_DIR": "/var/lib/verdict",
        ])
        #expect(configuration.sources.map(\.name) == EngineConfiguration.sourceNames)
        #expect(source(configuration, "virustotal").isOn)
        #expect(source(configuration, "virustotal").baseURL == "https://www.virustotal.com/api/v3")
        #expect(source(configuration, "virustotal").policy.windows == [.perMinute(4), .perDay(500)])
        #expect(source(configuration, "urlhaus").apiKey == "abuse-key")
        #expect(source(configuration, "threatfox").apiKey == "own-threatfox-key")
        #expect(source(configuration, "internetdb").isOn)
        #expect(source(configuration, "otx").offReason == "no API key: set VERDICT_OTX_API_KEY")
        #expect(source(configuration, "malwarebazaar").isOn)
        #expect(
            source(configuration, "misp").offReason
                == "no URL: set VERDICT_MISP_URL to your MISP (and VERDICT_MISP_API_KEY)"
        )
        #expect(
            source(configuration, "local").offReason
                == "no local feeds: set VERDICT_FEEDS_DIR or list feeds: in the settings"
        )
        #expect(configuration.dataDirectory == "/var/lib/verdict")
    }

    @Test func theEnvironmentOverridesTheYAMLFile() async throws {
        let yaml = """
            otx:
              api_key: from-yaml
              rate: 10/minute, 1000/day
              timeout_ms: 1500
            misp:
              url: https://misp.internal.example:8443
              api_key: misp-key
              insecure_tls: true
            cache:
              found_ttl_seconds: 3600
            aggregation:
              malicious_threshold: 80
              weights: otx=0.3, misp=1
            internal_suffixes: corp, lan
            """
        let configuration = try await load(["VERDICT_OTX_API_KEY": "from-env"], yaml: yaml)
        let otx = source(configuration, "otx")
        #expect(otx.apiKey == "from-env")
        #expect(otx.policy.windows == [.perMinute(10), .perDay(1000)])
        #expect(otx.policy.deadline == .milliseconds(1500))
        let misp = source(configuration, "misp")
        #expect(misp.isOn && misp.insecureTLS && misp.baseURL == "https://misp.internal.example:8443")
        #expect(configuration.lifetimes.found == 3600)
        #expect(configuration.aggregator.maliciousThreshold == 80)
        #expect(configuration.aggregator.weight(of: "otx") == 0.3)
        #expect(configuration.internalSuffixes == ["corp", "lan"])
    }

    @Test(arguments: [
        (
            ["VERDICT_VIRUSTOTAL_URL": "ftp://x"],
            "VERDICT_VIRUSTOTAL_URL (virustotal.url in the YAML file): \"ftp://x\" is not an http(s) URL"
        ),
        (
            ["VERDICT_ABUSEIPDB_RATE": "lots"],
            "VERDICT_ABUSEIPDB_RATE (abuseipdb.rate in the YAML file): \"lots\" is not a rate such as 4/minute or 500/day"
        ),
        (
            ["VERDICT_OTX_TIMEOUT_MS": "soon"],
            "VERDICT_OTX_TIMEOUT_MS (otx.timeout_ms in the YAML file): \"soon\" is not a number from 50.0 to 120000.0"
        ),
        (
            ["VERDICT_MISP_INSECURE_TLS": "maybe"],
            "VERDICT_MISP_INSECURE_TLS (misp.insecure_tls in the YAML file): \"maybe\" is not true or false"
        ),
        (["VERDICT_AGGREGATION_SUSPICIOUS_THRESHOLD": "90"], "must be below VERDICT_AGGREGATION_MALICIOUS_THRESHOLD"),
        (["VERDICT_AGGREGATION_WEIGHTS": "nosuch=1"], "\"nosuch=1\" is not SOURCE=WEIGHT with a known source"),
        (["VERDICT_CONFIG": "/no/such/verdict.yaml"], "VERDICT_CONFIG: /no/such/verdict.yaml does not exist"),
    ])
    func badSettingsSayWhichAndHowToFix(environment: [String: String], message: String) async {
        await #expect {
            try await EngineConfiguration.load(environment: environment)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }

    @Test func keysNeverAppearInErrorsOrTheExplanation() async throws {
        let configuration = try await load(["VERDICT_VIRUSTOTAL_API_KEY": "secret-vt-key-0123"])
        #expect(!String(describing: configuration.sources.map(\.offReason)).contains("secret-vt-key-0123"))
        await #expect {
            try await EngineConfiguration.load(environment: [
                "VERDICT_VIRUSTOTAL_API_KEY": "secret-vt-key-0123", "VERDICT_VIRUSTOTAL_URL": "nope",
            ])
        } throws: { error in
            !String(describing: error).contains("secret-vt-key-0123")
        }
    }
}
