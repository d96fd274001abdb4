import Foundation
import Testing
import VerdictCore
import VerdictWazuh

/// The tail daemon's parts: integratord's filters from ossec.conf, the checkpoint record, the spool.
struct TailPartsTests {
    static func alert(level: Int, id: String, groups: [String], location: String?) throws -> JSONValue {
        let groupList = groups.map { "\"\($0)\"" }.joined(separator: ",")
        let locationPart = location.map { ",\"location\":\"\($0)\"" } ?? ""
        return try JSONValue(
            parsing: #"{"rule":{"level":\#(level),"id":"\#(id)","groups":[\#(groupList)]}\#(locationPart)}"#
        )
    }

    @Test func ossecConfBlocksAndIntegratordsFilterSemantics() throws {
        let conf = """
            <?xml version="1.0"?>
            <!-- two sections, as Wazuh's own files have -->
            <ossec_config><global><email_notification>no</email_notification></global>
              <localfile><command>df -P && netstat -tulpn</command></localfile>
              <!-- <integration><name>custom-old</name></integration> -->
            </ossec_config>
            <ossec_config>
              <integration>
                <name>slack</name><hook_url>https://hooks.example/x</hook_url><level>10</level>
              </integration>
              <integration>
                <name>custom-verdict</name>
                <level>7</level>
                <group>syscheck, sshd,web,</group>
                <rule_id>5712, 31101</rule_id>
                <event_location>auth.log|^/var/log/nginx</event_location>
                <options>{"min_verdict": "malicious"}</options>
                <timeout>4</timeout>
              </integration>
            </ossec_config>
            """
        let blocks = try IntegrationBlock.blocks(inOssecConf: conf)
        #expect(blocks.map(\.name) == ["slack", "custom-verdict"])
        let block = try #require(blocks.last)
        #expect(block.groups == ["syscheck", " sshd", "web"], "split on commas, no trimming, as integratord")
        #expect(block.ruleIDs == [5712, 31101])
        #expect(block.options == #"{"min_verdict": "malicious"}"#)
        #expect(block.timeoutSeconds == 4)

        #expect(block.accepts(try Self.alert(level: 10, id: "5712", groups: ["web"], location: "/var/log/auth.log")))
        #expect(
            !block.accepts(try Self.alert(level: 6, id: "5712", groups: ["web"], location: "/var/log/auth.log")),
            "level"
        )
        #expect(
            !block.accepts(try Self.alert(level: 10, id: "5712", groups: ["sshd"], location: "/var/log/auth.log")),
            "\" sshd\" is not \"sshd\""
        )
        #expect(
            !block.accepts(try Self.alert(level: 10, id: "5710", groups: ["web"], location: "/var/log/auth.log")),
            "rule_id"
        )
        #expect(
            block.accepts(
                try Self.alert(level: 10, id: "31101", groups: ["web"], location: "/VAR/LOG/NGINX/access.log")
            )
        )
        #expect(
            !block.accepts(try Self.alert(level: 10, id: "31101", groups: ["web"], location: "/srv/var/log/nginx")),
            "^ anchors"
        )
        #expect(!block.accepts(try Self.alert(level: 10, id: "5712", groups: ["web"], location: nil)), "no location")
        #expect(IntegrationBlock(name: "x").accepts(try Self.alert(level: 0, id: "1", groups: [], location: nil)))

        #expect(throws: IntegrationFailure.self) {
            try IntegrationBlock.blocks(inOssecConf: "<ossec_config><integration>")
        }
        // As Wazuh's os_xml reads them: the text as written (no entities decoded, a bare `&` is fine).
        let literal = try IntegrationBlock.blocks(
            inOssecConf: """
                <integration><name>custom-verdict</name>
                  <hook_url>https://verdict.internal/x?a=1&b=2</hook_url><api_key>k&amp;y</api_key>
                  <options/></integration>
                """
        )
        #expect(literal.first?.hookURL == "https://verdict.internal/x?a=1&b=2")
        #expect(literal.first?.apiKey == "k&amp;y")
        #expect(literal.first?.options == "")
        for malformed in [
            "<integration><name>x</name><level>3</integration>",
            "<integration><name>x</name><level><b>3</b></level></integration>",
            "<integration><name>x</name> stray <level>3</level></integration>",
            "<integration><level>3</level></integration>",
        ] {
            #expect(throws: IntegrationFailure.self, "\(malformed)") {
                try IntegrationBlock.blocks(inOssecConf: malformed)
            }
        }
        #expect(throws: IntegrationFailure.self) {
            try IntegrationBlock.blocks(
                inOssecConf: "<ossec_config><integration><level>high</level><name>x</name></integration></ossec_config>"
            )
        }
    }

    @Test func checkpointAndSpoolSurviveReopening() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tailparts-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let record = TailCheckpoint.Record(
            identity: FileIdentity(device: 2049, inode: 16_335_574),
            offset: 123_456_789,
            eventsWritten: 3
        )
        try TailCheckpoint(path: folder + "/c").save(record)
        #expect(try TailCheckpoint(path: folder + "/c").load() == record)
        #expect(try TailCheckpoint(path: folder + "/empty").load() == nil)

        let spool = try EventSpool(folder: folder, limitBytes: 1_000)
        spool.append(Array("1:verdict:{\"a\":1}".utf8))
        spool.append(Array("1:verdict:{\"b\":2}".utf8))
        #expect(spool.depth == 2)
        #expect(spool.peek() == Array("1:verdict:{\"a\":1}".utf8))
        spool.removeFirst()
        let reopened = try EventSpool(folder: folder, limitBytes: 1_000)
        #expect(reopened.depth == 1, "the read position is kept")
        #expect(reopened.peek() == Array("1:verdict:{\"b\":2}".utf8))
        #expect(reopened.wouldOverflow(990))
        #expect(!reopened.wouldOverflow(100))
        reopened.removeFirst()
        #expect(reopened.isEmpty && reopened.sizeBytes == 0)
    }

    /// `verdict tail` may run as root: a link planted where its checkpoint or spool goes is refused, and the
    /// file it points at is left alone.
    @Test func checkpointAndSpoolNeverOpenThroughALink() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tailparts-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: folder + "/spool", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = folder + "/profile.sh"
        symlink(target, folder + "/tail.checkpoint")
        symlink(target, folder + "/spool/events.spool")
        #expect {
            try TailCheckpoint(path: folder + "/tail.checkpoint")
        } throws: { error in
            String(describing: error).contains("symbolic link")
        }
        #expect(throws: IntegrationFailure.self) { try EventSpool(folder: folder + "/spool", limitBytes: 1_000) }
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}
