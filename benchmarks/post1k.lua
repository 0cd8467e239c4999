-- wrk script: POST with a 1 KiB body (1024 bytes of 'a').
wrk.method = "POST"
wrk.body = string.rep("a", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
