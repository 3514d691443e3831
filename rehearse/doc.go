// Package rehearse rehearses a flash sale against a running gateway: a
// crowd of simulated shoppers arrives on a profile (a spike, a ramp, a
// steady rate), each doing what a browser or an app does on sale day (load
// the item page, wait in the queue by polling its status, solve the quiz or
// proof of work for real, buy with the passes it earned, retry as people
// do), together with a share of bots (direct purchases without passes,
// replayed and borrowed passes, many users from one address) that should
// all be refused. It reports what a sale's owner asks the morning after:
// how many got in and bought, why the others were refused (the gateway's
// own reason codes), what reached the shop, how long each step took, when
// the item sold out, whether any bot got through and whether anything was
// oversold.
//
// It is a client: it speaks plain HTTP to the gateway and knows nothing of
// the gateway's packages, so a rehearsal of a remote deployment measures
// exactly what shoppers would see. Every run is bounded in time and
// requests and stops by itself; cancelling its context ends it with a
// partial report. Each simulated shopper has its own source address (on a
// loopback target, one of 127.0.0.0/8's), so per-address limits and queue
// places see a crowd, not one client.
package rehearse
