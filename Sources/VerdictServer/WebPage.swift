/// The analyst console at `/` (`Console/console.html`, `.css`, `.js`, compiled into the library): paste a text, an
/// alert or a list, see what would be looked up and what is left out and why, then the verdicts. It calls the
/// same API as any client; the key stays in the browser's session storage.
enum WebPage {
    /// The page runs only its own files, talks only to this server, and cannot be framed.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    struct Asset: Sendable {
        var path: String
        var contentType: String
        var bytes: [UInt8]
    }

    static let assets = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.console_html),
        Asset(path: "/console.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.console_css),
        Asset(
            path: "/console.js",
            contentType: "text/javascript; charset=utf-8",
            bytes: PackageResources.console_js
        ),
        // Browsers ask for it whatever the page says.
        Asset(path: "/favicon.ico", contentType: "image/svg+xml", bytes: Array(icon.utf8)),
    ]

    /// A shield.
    static let icon = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5.1 13.4 12 15 6.9-1.6 12-7.5 12-15V7z" fill="#cf222e"/><path d="m10 16 4 4 8-9" stroke="#fff" stroke-width="3" fill="none"/></svg>
        """#
}
