-- wrk script: POST the JSON body in the file named by $WRK_BODY to the URL given to wrk.
-- wrk counts answers other than 2xx itself ("Non-2xx or 3xx responses"): with a readable
-- captcha there should be none.
local body_file = assert(os.getenv("WRK_BODY"), "set WRK_BODY to a file holding the JSON body")
local file = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  io.write(string.format("p50 %.1f ms, p99 %.1f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
