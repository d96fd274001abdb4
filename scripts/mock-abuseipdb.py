#!/usr/bin/env python3
# A stand-in for AbuseIPDB's check endpoint on 127.0.0.1 for the benchmarks (docs/sources.md's answer shape):
# every address is reported malicious. Prints the port it listens on, then serves until killed.
import http.server, json
class AbuseIPDB(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ip = self.path.split("ipAddress=")[1].split("&")[0]
        body = json.dumps({"data": {"ipAddress": ip, "isPublic": True, "ipVersion": 4, "isWhitelisted": False,
            "abuseConfidenceScore": 100, "countryCode": "DE", "isTor": True, "totalReports": 47,
            "numDistinctUsers": 22, "lastReportedAt": "2024-05-29T18:33:12+00:00"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AbuseIPDB)
print(server.server_address[1], flush=True)
server.serve_forever()
