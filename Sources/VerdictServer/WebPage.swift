import Crypto
import Foundation

/// The page at `/`: paste indicators, give an API key, see each verdict and what every source said. It
/// calls the same `POST /v1/enrichment/lookup` as any client; the key stays in the browser's session storage.
enum WebPage {
    /// Allows exactly the page's own inline script and style, by their SHA-256, and requests to this server.
    static let contentSecurityPolicy: String = {
        func hash(of element: String) -> String {
            guard let open = html.range(of: "<\(element)>"), let close = html.range(of: "</\(element)>") else {
                return "'none'"
            }
            let body = html[open.upperBound..<close.lowerBound]
            return "'sha256-" + Data(SHA256.hash(data: Data(body.utf8))).base64EncodedString() + "'"
        }
        return "default-src 'none'; script-src \(hash(of: "script")); style-src \(hash(of: "style")); "
            + "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    }()

    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Verdict lookup</title>
        <link rel="icon" href="/favicon.ico" type="image/svg+xml">
        <style>
          body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #1d232a; }
          textarea, input { width: 100%; box-sizing: border-box; font: 14px ui-monospace, monospace; padding: .5rem; }
          textarea { height: 8rem; }
          button { margin-top: .5rem; padding: .5rem 1.2rem; font-size: 15px; }
          .result { border: 1px solid #d0d7de; border-radius: 6px; margin: 1rem 0; padding: .75rem 1rem; }
          .malicious { border-left: 6px solid #cf222e; } .suspicious { border-left: 6px solid #bf8700; }
          .harmless { border-left: 6px solid #1a7f37; } .unknown, .suppressed { border-left: 6px solid #8c959f; }
          table { border-collapse: collapse; width: 100%; margin-top: .5rem; font-size: 14px; }
          td, th { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
          .error { color: #cf222e; white-space: pre-wrap; } .muted { color: #57606a; }
          .warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: .5rem .75rem; }
        </style>
        </head>
        <body>
        <h1>Verdict</h1>
        <p class="muted">One value per line: IP addresses, domains, URLs, emails, MD5/SHA-1/SHA-256 hashes.
        Defanged values (<code>hxxp://evil[.]com</code>) are fine. At most 100 per lookup.</p>
        <form id="lookup">
          <label>API key <input id="key" type="password" autocomplete="off" placeholder="vk_…" required></label>
          <label>Indicators <textarea id="indicators" required></textarea></label>
          <label><input id="refresh" type="checkbox" style="width:auto"> ask the sources again (ignore the cache)</label>
          <br><button type="submit">Look up</button> <span id="status" class="muted"></span>
        </form>
        <div id="out"></div>
        <script>
        const form = document.getElementById("lookup"), out = document.getElementById("out");
        const keyField = document.getElementById("key"), statusLine = document.getElementById("status");
        keyField.value = sessionStorage.getItem("verdict-key") || "";
        // Only web links from a source's answer become links: never javascript:, data: and the like.
        function safeLink(text) {
          try { const url = new URL(text); return url.protocol === "https:" || url.protocol === "http:" ? url.href : null; }
          catch (error) { return null; }
        }
        function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          sessionStorage.setItem("verdict-key", keyField.value.trim());
          // Blank lines are left out of the request; lineOf maps a request position back to its line.
          const lines = document.getElementById("indicators").value.split("\n").map(s => s.trim());
          const lineOf = [], indicators = [];
          lines.forEach((text, i) => { if (text) { lineOf.push(i + 1); indicators.push(text); } });
          out.replaceChildren(); statusLine.textContent = "looking up…";
          try {
            const response = await fetch("/v1/enrichment/lookup", {
              method: "POST",
              headers: {"Content-Type": "application/json", "Authorization": "Bearer " + keyField.value.trim()},
              body: JSON.stringify({indicators, refresh: document.getElementById("refresh").checked})
            });
            const body = await response.json();
            if (!response.ok) {
              statusLine.textContent = "";
              if (body.error.code === "invalid_indicators") {
                out.append(el("p", "error", "Some lines are not indicators; fix or remove them (nothing was looked up or charged):"));
                const list = el("ul", "error");
                for (const bad of body.error.invalid) list.append(el("li", null, "line " + lineOf[bad.index] + ": " + JSON.stringify(bad.input) + ": " + bad.reason));
                out.append(list);
              } else {
                out.append(el("p", "error", response.status + " " + body.error.code + ": " + body.error.message));
              }
              return;
            }
            statusLine.textContent = "credits charged " + body.credits.charged + ", left " + (body.credits.remaining ?? "unlimited");
            for (const warning of body.warnings || []) out.append(el("p", "warning", "Warning: " + warning));
            for (const r of body.results) {
              const box = el("div", "result " + r.verdict);
              box.append(el("strong", null, r.indicator.value + " (" + r.indicator.type + "): " + r.verdict + ", score " + r.score + ", confidence " + r.confidence));
              box.append(el("div", "muted", r.summary + (r.cached ? " · cached " + r.age_s + " s ago" : "")));
              if (r.sources.length) {
                const table = el("table"); const head = el("tr");
                for (const h of ["source", "status", "verdict", "score", "details"]) head.append(el("th", null, h));
                table.append(head);
                for (const s of r.sources) {
                  const row = el("tr");
                  row.append(el("td", null, s.source), el("td", null, s.status), el("td", null, s.verdict ?? ""), el("td", null, s.score ?? ""));
                  const cell = el("td", null, s.error ?? (s.categories || []).join(", "));
                  const link = safeLink(s.link);
                  if (link) { const a = el("a", null, " open"); a.href = link; a.target = "_blank"; a.rel = "noopener noreferrer"; cell.append(a); }
                  row.append(cell); table.append(row);
                }
                box.append(table);
              }
              out.append(box);
            }
          } catch (error) { statusLine.textContent = ""; out.append(el("p", "error", "the server did not answer: " + error)); }
        });
        </script>
        </body>
        </html>
        """#

    /// A shield, served at `/favicon.ico` (browsers ask for it whatever the page says).
    static let icon = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5.1 13.4 12 15 6.9-1.6 12-7.5 12-15V7z" fill="#cf222e"/><path d="m10 16 4 4 8-9" stroke="#fff" stroke-width="3" fill="none"/></svg>
        """#
}
