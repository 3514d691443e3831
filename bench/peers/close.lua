-- Every request asks the server to close the connection after answering,
-- so wrk opens a new one (and, over TLS, does a new handshake) per request.
-- A header, not -H: wrk's -H needs "Name: value" with a space, which the
-- scripts' word splitting cannot pass.
wrk.headers["Connection"] = "close"
