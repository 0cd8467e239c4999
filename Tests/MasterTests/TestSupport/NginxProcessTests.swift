import Testing
import TestSupport

/// NginxProcess runs Debian's nginx (skipped when it is not installed).
@Suite struct NginxProcessTests {
    /// nginx proxies to a TestUpstream and stops cleanly.
    @Test(.requires("/usr/sbin/nginx"))
    func nginxProxiesToTheUpstream() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let nginx = try NginxProcess(serverConfig: """
            listen 127.0.0.1:{{PORT}};
            location /up/ { proxy_pass http://127.0.0.1:\(upstream.port); proxy_http_version 1.1; proxy_set_header Connection ""; }
            location / { return 200 "ok\\n"; }
            """)
        try nginx.start()
        #expect(try HTTPClient.request(port: nginx.port, path: "/").bodyText == "ok\n")
        let echoed = try HTTPClient.request(port: nginx.port, path: "/up/x?y=1").echoed()
        #expect(echoed.target == "/up/x?y=1")
        #expect(nginx.stop() == 0)
        #expect(!SluiceProcess.isListening(port: nginx.port))
    }
}
