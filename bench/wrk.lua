-- wrk script: sends "Authorization: Bearer $OGB_KEY" when OGB_KEY is set,
-- and prints one line "OGB {json}" with the run's counts and latencies
-- (microseconds).  "non2xx" is wrk's status error count: responses
-- other than 2xx/3xx.
local key = os.getenv("OGB_KEY")
if key ~= nil and key ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. key
end

function done(s, lat, _)
	local e = s.errors
	io.write(string.format('OGB {"requests":%d,"seconds":%.3f,' ..
	    '"rps":%.1f,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
	    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"non2xx":%d}\n',
	    s.requests, s.duration / 1e6, s.requests / (s.duration / 1e6),
	    s.bytes, lat:percentile(50), lat:percentile(99), lat.max,
	    e.connect, e.read, e.write, e.timeout, e.status))
end
