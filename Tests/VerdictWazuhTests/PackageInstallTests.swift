import Foundation
import Testing
import VerdictCore
import VerdictTestSupport

/// Whether this machine is one the package may be installed into.
enum PackageMachine {
    static let isAsked = ProcessInfo.processInfo.environment["VERDICT_TEST_PACKAGE"] == "1"
}

/// The release package as a Wazuh administrator meets it: `scripts/package.sh` builds it, dpkg installs it into
/// this machine (its postinst sets up a fake manager home), integratord's way of running `custom-verdict` works
/// from what was installed, and `dpkg -r` then `dpkg -P` leave nothing but what each promises to keep.
/// It installs into the machine itself (/usr/lib/verdict, /etc/verdict, systemd units) and builds every
/// executable again with the static Swift libraries (about 10 minutes here), so it runs where `.ci/run` asks for it.
@Suite(
    .enabled(
        if: PackageMachine.isAsked && getuid() == 0,
        "installs a .deb into this machine: runs only as root with VERDICT_TEST_PACKAGE=1, which .ci/run sets"
    )
)
struct PackageInstallTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs a command to its end; its output merged, for the failure message.
    static func run(_ command: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: repository)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let captured = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: captured, as: UTF8.self))
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func packageInstallsRunsAsIntegratordAndRemovesCleanly() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dist-\(UUID().uuidString.prefix(8))"
        )
        .path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let built = try Self.run(["bash", "scripts/package.sh", "--output", output])
        try #require(built.status == 0, "scripts/package.sh failed:\n\(built.output.suffix(4000))")
        let names = try FileManager.default.contentsOfDirectory(atPath: output)
        let version = verdictVersion
        #expect(names.contains("verdict-\(version)-linux-x86_64.tar.gz"), "\(names)")
        let debName = try #require(names.first { $0.hasPrefix("verdict_\(version)-") && $0.hasSuffix("_amd64.deb") })
        let deb = output + "/" + debName

        // Depends names only C libraries the binaries load: no Swift toolchain, no libxml2, no ICU.
        let fields = try Self.run(["dpkg-deb", "--field", deb, "Depends"])
        #expect(fields.output.contains("libc6"), "\(fields.output)")
        for absent in ["swift", "libxml2", "libicu", "libfoundation"] {
            #expect(!fields.output.lowercased().contains(absent), "Depends: \(fields.output)")
        }
        let contents = try Self.run(["dpkg-deb", "--contents", deb])
        let packaged = contents.output.split(separator: "\n").compactMap { line -> String? in
            // `-rwxr-xr-x root/root 123 2026-12-01 10:00 ./usr/lib/verdict/verdict` (links end in `-> target`).
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first,
                path.hasPrefix("./"), !path.hasSuffix("/")
            else { return nil }
            return String(path.dropFirst())
        }
        for expected in [
            "/usr/lib/verdict/verdict", "/usr/lib/verdict/custom-verdict", "/usr/lib/verdict/verdict-ar",
            "/usr/bin/verdict", "/lib/systemd/system/verdict-tail.service", "/lib/systemd/system/verdict-serve.service",
            "/etc/verdict/verdict.yaml", "/usr/share/verdict/wazuh/verdict_rules.xml",
            "/usr/share/man/man1/verdict-wazuh-install.1.gz",
        ] {
            #expect(packaged.contains(expected), "the package lacks \(expected)")
        }

        let home = try IntegrationProcessTests.WazuhHome()
        defer { _ = try? Self.run(["dpkg", "--purge", "verdict"]) }
        let installed = try Self.run(["dpkg", "-i", deb], environment: ["VERDICT_WAZUH_HOME": home.path])
        try #require(installed.status == 0, "dpkg -i failed:\n\(installed.output)")
        #expect(installed.output.contains("setting up the Wazuh manager in \(home.path)"), "\(installed.output)")
        let printed = try Self.run(["/usr/bin/verdict", "--version"])
        #expect(printed.output.trimmingCharacters(in: .whitespacesAndNewlines) == version)
        let program = [
            "integrations/custom-verdict", "active-response/bin/verdict-ar", "integrations/verdict",
            "active-response/bin/verdict", "etc/rules/verdict_rules.xml",
        ]
        for placed in program {
            #expect(Self.exists(home.path + "/" + placed), "postinst's verdict wazuh install did not place \(placed)")
        }

        // The installed custom-verdict, run as integratord runs it, enriches an alert from a local feed.
        let alert = try home.file("custom-verdict-1716200000--42.alert", IntegrationProcessTests.sshdAlert + "\n")
        func runInstalled() async throws -> WazuhProcess.Finished {
            try await WazuhProcess.run(
                URL(fileURLWithPath: home.path + "/integrations/custom-verdict"),
                argv0: "integrations",
                arguments: IntegrationProcessTests.argv(alert: alert),
                home: home.path,
                environment: home.environment
            )
        }
        let run = try await runInstalled()
        #expect(run.status == 0, "\(run.output) \(home.log)")
        let received = await home.receiver!.wait(for: 1)
        let datagram = try #require(received.first, "no event on the queue socket; log: \(home.log)")
        let event = try JSONValue(parsing: String(datagram.drop { $0 != "{" }))
        #expect(event["verdict"]?["indicator"] == .string("185.220.101.4"))
        #expect(event["verdict"]?["verdict"] == .string("malicious"))
        #expect(Self.exists(home.path + "/var/verdict"), "the run keeps its cache in the home's var/verdict")

        // The first run started the warm engine; the next alert is handed to it, with the same result.
        let engine = home.path + "/integrations/verdict"
        let enginePID = try await WarmEngineProcessTests.waitForEngine(engine, home: home.path, user: getuid())
        let warm = try await runInstalled()
        #expect(warm.status == 0, "\(warm.output) \(home.log)")
        let both = await home.receiver!.wait(for: 2)
        #expect(both.count == 2 && both[1].contains(#""verdict":"malicious""#), "log: \(home.log)")

        // The relays Wazuh starts for every alert are fully static: nothing for the dynamic loader to do.
        for relay in ["/usr/lib/verdict/custom-verdict", "/usr/lib/verdict/verdict-ar"] {
            let headers = try Self.run(["readelf", "--program-headers", relay])
            #expect(headers.status == 0 && headers.output.contains("LOAD"), "\(headers.output)")
            #expect(!headers.output.contains("INTERP"), "\(relay) asks for a dynamic loader")
        }
        // The installed verdict-ar, run as wazuh-execd runs it (as root, the message on its standard input). It
        // becomes the home's stand-in for the wazuh user (nobody), whose group must reach its engine and settings:
        // with no wazuh group here, the installer left that step to do by hand.
        if getgrnam("wazuh") == nil, let nobody = getpwnam("nobody")?.pointee {
            for file in ["active-response/bin/verdict-ar", "active-response/bin/verdict", "etc/verdict.yaml"] {
                #expect(chown(home.path + "/" + file, 0, nobody.pw_gid) == 0)
            }
        }
        let input = Pipe()
        let response = try WarmEngineProcessTests.start(
            home.path + "/active-response/bin/verdict-ar",
            arguments: [],
            home: home,
            input: input
        )
        input.fileHandleForWriting.write(Data(ActiveResponseHardeningTests.message(alertID: "1716200000.777").utf8))
        let responded = await WarmEngineProcessTests.finish(response)
        try? input.fileHandleForWriting.close()
        #expect(responded.status == 0, "\(responded.output)")
        let three = await home.receiver!.wait(for: 3)
        let responseLog = (try? String(contentsOfFile: home.path + "/logs/active-responses.log", encoding: .utf8)) ?? ""
        #expect(three.count == 3 && three[2].contains(#""verdict":"malicious""#), "\(responseLog)")

        // A folder whose group is root's sends the static relay to the group database for `wazuh`: it reads
        // /etc/group only (loading another database's module would crash it) and goes on as nobody's.
        if getuid() == 0 {
            #expect(chown(home.path + "/var/verdict", getpwnam("nobody")!.pointee.pw_uid, 0) == 0)
            let unknownMessage = Pipe()
            let refused = try WarmEngineProcessTests.start(
                home.path + "/active-response/bin/verdict-ar",
                arguments: [],
                home: home,
                environment: ["VERDICT_ENGINE_IDLE": "0"],
                input: unknownMessage
            )
            unknownMessage.fileHandleForWriting.write(Data("{}\n".utf8))
            let ended = await WarmEngineProcessTests.finish(refused)
            #expect(ended.status == 4, "a message that is not Wazuh's is refused, without a crash: \(ended.output)")
        }

        // Remove: the package's files and the manager's executables and rules go; settings and data stay.
        let removed = try Self.run(["dpkg", "-r", "verdict"])
        try #require(removed.status == 0, "dpkg -r failed:\n\(removed.output)")
        let kept = ["/etc/verdict/verdict.yaml"]
        for path in packaged where !kept.contains(path) {
            #expect(!Self.exists(path), "dpkg -r left \(path) behind")
        }
        for path in program {
            #expect(!Self.exists(home.path + "/" + path), "dpkg -r left \(path) in the Wazuh home")
        }
        #expect(
            await WarmEngineProcessTests.waitUntil {
                kill(enginePID, 0) != 0 || WarmEngineProcessTests.isZombie(enginePID)
            },
            "the warm engine left once dpkg -r removed its executable"
        )
        for path in kept + ["/var/lib/verdict"] { #expect(Self.exists(path), "dpkg -r removed \(path)") }
        for path in ["etc/verdict.yaml", "var/verdict"] {
            #expect(Self.exists(home.path + "/" + path), "dpkg -r removed the home's \(path)")
        }
        let status = try Self.run(["dpkg-query", "--show", "--showformat=${Status}", "verdict"])
        #expect(status.output.contains("config-files"), "\(status.output)")

        // Purge: the configuration and verdict serve's data go too.
        let purged = try Self.run(["dpkg", "--purge", "verdict"])
        try #require(purged.status == 0, "dpkg --purge failed:\n\(purged.output)")
        for path in ["/etc/verdict", "/var/lib/verdict"] { #expect(!Self.exists(path), "dpkg --purge left \(path)") }
    }
}
