package origin

// LatencyBuckets are the upper bounds (seconds) of flashgate's latency
// histograms, the origin calls' here and the requests' in the proxy: a
// cache hit answers in well under a millisecond, an origin call in tens of
// milliseconds, a timeout in seconds.
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
