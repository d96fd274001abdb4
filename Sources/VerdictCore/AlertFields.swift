/// Where indicators live in Wazuh alerts, and how to read each place.
///
/// Wazuh 4.x decoders put event fields under `data.*` (`data.srcip`, `data.win.eventdata.destinationIp`),
/// FIM under `syscheck.*`, auditd under `audit.*` or `data.audit.*`; Wazuh 5 and ECS-shaped JSON logs use
/// `source.ip`, `url.full`, `file.hash.sha256`. Paths are matched case-insensitively with array indices
/// dropped, and ECS names also match under `data.` (JSON logs decoded by Wazuh's json decoder).
public enum AlertFields {
    public enum Kind: Sendable {
        /// An IP address, maybe with a port.
        case address
        /// A host name.
        case hostname
        /// A URL, or a path when the log only has one.
        case url
        /// One hash.
        case hash
        /// Sysmon's `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`; the import hash is not a file hash and is skipped.
        case hashList
        /// An email address.
        case email
        /// Free text (command lines, DNS answers): scanned like `full_log`.
        case text
    }

    static let wazuhFields: [String: Kind] = [
        "data.srcip": .address, "data.dstip": .address, "data.src_ip": .address, "data.dest_ip": .address,
        "data.dst_ip": .address, "data.srcaddr": .address, "data.dstaddr": .address, "data.src_addr": .address,
        "data.dst_addr": .address, "data.source_ip": .address, "data.destination_ip": .address,
        "data.client_ip": .address, "data.clientip": .address, "data.remote_ip": .address, "data.remoteip": .address,
        "data.ip": .address, "data.ipaddress": .address, "data.id.orig_h": .address, "data.id.resp_h": .address,
        "data.win.eventdata.sourceip": .address, "data.win.eventdata.destinationip": .address,
        "data.win.eventdata.ipaddress": .address, "data.aws.sourceipaddress": .address,
        "data.aws.source_ip_address": .address, "data.gcp.protopayload.requestmetadata.callerip": .address,
        "data.office365.clientip": .address, "data.office365.actoripaddress": .address,
        "data.github.actor_ip": .address, "data.osquery.columns.remote_address": .address,
        "data.osquery.columns.address": .address,

        "data.hostname": .hostname, "data.http.hostname": .hostname, "data.dns.rrname": .hostname,
        "data.dns.queries.rrname": .hostname, "data.dns.query": .hostname, "data.query": .hostname,
        "data.tls.sni": .hostname, "data.win.eventdata.queryname": .hostname,
        "data.win.eventdata.destinationhostname": .hostname, "data.osquery.columns.domain": .hostname,

        "data.url": .url, "data.http.url": .url, "data.http.http_refer": .url, "data.http.redirect": .url,
        "data.request_url": .url, "data.uri": .url,

        // The content before a change is evidence too (and an empty file before is reported as suppressed).
        "syscheck.md5_after": .hash, "syscheck.sha1_after": .hash, "syscheck.sha256_after": .hash,
        "syscheck.md5_before": .hash, "syscheck.sha1_before": .hash, "syscheck.sha256_before": .hash,
        // Wazuh's VirusTotal integration writes the hashes it asked about into its own alerts.
        "data.virustotal.source.md5": .hash, "data.virustotal.source.sha1": .hash,
        "data.virustotal.source.sha256": .hash, "data.virustotal.sha1": .hash, "data.virustotal.sha256": .hash,
        "data.md5": .hash, "data.sha1": .hash, "data.sha256": .hash, "data.fileinfo.md5": .hash,
        "data.fileinfo.sha1": .hash, "data.fileinfo.sha256": .hash, "data.osquery.columns.md5": .hash,
        "data.osquery.columns.sha1": .hash, "data.osquery.columns.sha256": .hash,
        "data.win.eventdata.hashes": .hashList, "data.win.eventdata.hash": .hashList,

        "data.win.eventdata.queryresults": .text, "data.win.eventdata.commandline": .text,
        "data.win.eventdata.parentcommandline": .text, "data.win.eventdata.scriptblocktext": .text,
        "data.command": .text, "data.audit.command": .text, "data.osquery.columns.cmdline": .text,
        "data.dns.answers.rdata": .text,
    ]

    /// ECS names (Wazuh 5, and JSON logs in ECS shape).
    static let ecsFields: [String: Kind] = [
        "source.ip": .address, "destination.ip": .address, "client.ip": .address, "server.ip": .address,
        "related.ip": .address, "source.address": .address, "destination.address": .address,
        "url.domain": .hostname, "dns.question.name": .hostname, "destination.domain": .hostname,
        "source.domain": .hostname, "server.domain": .hostname, "related.hosts": .hostname,
        "url.full": .url, "url.original": .url, "related.hash": .hash,
        "email.from.address": .email, "email.sender.address": .email, "email.reply_to.address": .email,
        "process.command_line": .text, "dns.answers.data": .text, "dns.resolved_ip": .address,
    ]

    /// Families where every child is read the same way (`audit.execve.a0`, `a1`, …; `file.hash.sha256`).
    static let prefixFields: [(prefix: String, kind: Kind)] = [
        ("audit.execve.", .text), ("data.audit.execve.", .text), ("file.hash.", .hash), ("process.hash.", .hash),
        ("process.parent.hash.", .hash), ("dll.hash.", .hash), ("data.file.hash.", .hash),
        ("data.process.hash.", .hash),
    ]

    /// How to read the field at a lowercase dotted `path`, or nil when it is not a known indicator field.
    public static func kind(ofPath path: String) -> Kind? {
        if let kind = wazuhFields[path] ?? ecsFields[path] { return kind }
        if path.hasPrefix("data."), let kind = ecsFields[String(path.dropFirst(5))] { return kind }
        return prefixFields.first { path.hasPrefix($0.prefix) }?.kind
    }
}
