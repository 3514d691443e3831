package admin

// family describes one metric family: its Prometheus type, its labels and
// what it counts. Every family /metrics exposes is in this table (a test
// fails otherwise), and docs/metrics.md lists exactly these.
type family struct {
	typ    string
	labels string // comma-separated, as written in docs/metrics.md
	help   string
}

// families is the table, by family name.
var families = map[string]family{
	// Requests, by route (names from the rules; _edge: answered before a
	// route matched; _gateway: /_flashgate/ pages; _unmatched: forwarded
	// by server.unmatched) and status class.
	"flashgate_requests_total":           {"counter", "route,class", "Requests answered, by route and status class (1xx..5xx, other)."},
	"flashgate_request_duration_seconds": {"histogram", "route,class", "Time from receiving a request to the end of its handler, by route and status class; sampled: the first answer of each route and class, then one in 16, is timed."},

	// Rules.
	"flashgate_reload_total":                          {"counter", "", "Reloads that found changed rule files."},
	"flashgate_reload_errors_total":                   {"counter", "", "Reloads rejected (the last good rules kept serving)."},
	"flashgate_reload_last_success_timestamp_seconds": {"gauge", "", "Unix time the serving rules were loaded."},
	"flashgate_reload_last_ok":                        {"gauge", "", "1 when the last reload (or the start) succeeded, 0 while the files hold a rejected edit."},
	"flashgate_build_info":                            {"gauge", "version", "Always 1; the version label names the build."},

	// Admission.
	"flashgate_filter_rejections_total":         {"counter", "route,filter,reason", "Requests refused at the edge, by route, filter kind and reason."},
	"flashgate_filter_dry_run_rejections_total": {"counter", "route,filter,reason", "Requests a filter in dry-run mode would have refused."},
	"flashgate_filter_untracked_total":          {"counter", "route,filter", "Requests a filter could not track because the state store was full."},
	"flashgate_filter_list_reload_errors_total": {"counter", "route,filter", "Failed reloads of a blocklist or tag list file."},
	"flashgate_filter_sold_out_total":           {"counter", "route", "Items this instance marked sold out from the origin's answer."},
	"flashgate_quiz_challenges_total":           {"counter", "route", "Quiz challenges handed out."},
	"flashgate_quiz_passes_total":               {"counter", "route", "Quiz answers accepted (passes issued)."},
	"flashgate_quiz_answers_refused_total":      {"counter", "route", "Quiz answers refused (wrong, expired, replayed)."},
	"flashgate_queue_admitted_total":            {"counter", "route", "Clients admitted from a waiting room, by the route that admitted them."},
	"flashgate_queue_admissions_total":          {"counter", "queue", "Clients admitted from a waiting room, by queue (group or route)."},
	"flashgate_queue_waiting":                   {"gauge", "queue", "Places waiting in line, lobby included."},
	"flashgate_queue_active":                    {"gauge", "queue", "Admitted sessions not over."},
	"flashgate_queue_admit_rate":                {"gauge", "queue", "Configured admissions per second (0: limited by max_active only)."},
	"flashgate_queue_paused":                    {"gauge", "queue", "1 while an operator has paused the waiting room's admissions."},
	"flashgate_stock_units":                     {"gauge", "route,item", "Units of an item the stock gate knows (the rule's or the last set)."},
	"flashgate_stock_left":                      {"gauge", "route,item", "Attempts the stock gate still lets through for an item (budget minus taken)."},
	"flashgate_stock_sold_out":                  {"gauge", "route,item", "1 once the origin said the item is sold out."},
	"flashgate_cluster_evictions_total":         {"counter", "table", "Filter state entries evicted from the in-memory store to make room."},
	"flashgate_cluster_untracked_total":         {"counter", "table", "Keys the in-memory store refused to track (full of protected entries)."},

	// Purchase queues (async routes; docs/orders.md).
	"flashgate_orders_queued_total":       {"counter", "route", "Purchases accepted into an async route's queue (tickets created)."},
	"flashgate_orders_duplicate_total":    {"counter", "route", "Purchases answered with the buyer's pending ticket for the item."},
	"flashgate_orders_rejected_total":     {"counter", "route,reason", "Purchases refused by the order queue (reason queue_full: 503)."},
	"flashgate_orders_pending":            {"gauge", "route", "Tickets waiting to be delivered (with cluster: across every instance)."},
	"flashgate_orders_durable":            {"gauge", "route", "1 when pending tickets survive the process (Redis), 0 in memory."},
	"flashgate_orders_delivered_total":    {"counter", "route,status", "Deliveries the shop answered, by status class (1xx..5xx, other)."},
	"flashgate_orders_outcomes_total":     {"counter", "route,outcome", "Tickets finished by this instance: delivered, sold_out, expired, failed."},
	"flashgate_orders_retries_total":      {"counter", "route", "Redeliveries of a ticket (same Idempotency-Key)."},
	"flashgate_orders_wait_seconds":       {"histogram", "route", "Time from accepting a purchase to its first delivery."},
	"flashgate_orders_ticket_reads_total": {"counter", "state", "Reads of /_flashgate/orders/{ticket} by what they found: pending, done, unknown."},

	// Shared state in Redis (cluster: redis; docs/cluster.md).
	"flashgate_cluster_redis_up":                  {"gauge", "", "1 while this instance reaches Redis, 0 while its breaker has it answer by the on_failure policy."},
	"flashgate_cluster_redis_state_changes_total": {"counter", "", "Times Redis went from reachable to unreachable or back."},
	"flashgate_cluster_redis_errors_total":        {"counter", "", "Redis calls that failed or timed out."},
	"flashgate_cluster_redis_calls_total":         {"counter", "", "Calls made to Redis."},
	"flashgate_cluster_fallback_total":            {"counter", "on_failure", "Decisions taken by the on_failure policy while Redis was unreachable."},
	"flashgate_cluster_unenforced_total":          {"counter", "", "Stock, purchase and limit checks let through unenforced (on_failure: open) while Redis was unreachable."},
	"flashgate_cluster_leased_total":              {"counter", "", "Rate-limit budget taken from Redis in leased batches."},

	// Cache.
	"flashgate_cache_requests_total":            {"counter", "result", "Cache lookups by result: hit, miss, stale, expired, bypass."},
	"flashgate_cache_coalesced_total":           {"counter", "", "Requests that waited for another request's origin fetch instead of fetching."},
	"flashgate_cache_stores_total":              {"counter", "", "Responses offered to the store (it may refuse some)."},
	"flashgate_cache_uncacheable_total":         {"counter", "", "Origin answers not cacheable (private, Set-Cookie, status)."},
	"flashgate_cache_hit_for_miss_total":        {"counter", "", "Requests that skipped coalescing for a key known to be uncacheable."},
	"flashgate_cache_origin_errors_total":       {"counter", "", "Origin fetches for the cache that failed."},
	"flashgate_cache_stale_if_error_total":      {"counter", "", "Stale responses served because the origin failed."},
	"flashgate_cache_evictions_total":           {"counter", "", "Entries evicted to stay within max_bytes."},
	"flashgate_cache_revalidations_total":       {"counter", "result", "Background revalidations: not_modified (304) or replaced."},
	"flashgate_cache_purges_total":              {"counter", "", "Purge calls."},
	"flashgate_cache_purged_entries_total":      {"counter", "", "Entries removed or marked stale by URL and tag purges."},
	"flashgate_cache_client_not_modified_total": {"counter", "", "304 answers to clients whose validators matched."},
	"flashgate_cache_bytes":                     {"gauge", "", "Bytes held by the response cache."},
	"flashgate_cache_items":                     {"gauge", "", "Responses held by the response cache (approximate while stores are in flight)."},

	// ESI.
	"flashgate_esi_pages_total":           {"counter", "path", "Pages assembled, by how (path: the assembly path taken)."},
	"flashgate_esi_errors_total":          {"counter", "", "ESI pages whose assembly failed (a fragment failed without a fallback, a bad template)."},
	"flashgate_esi_template_errors_total": {"counter", "", "Answers whose ESI template could not be parsed (502 esi_template_error)."},

	// Origins.
	"flashgate_origin_duration_seconds":                  {"histogram", "origin,server", "Time of origin calls (connect to last byte), by origin server."},
	"flashgate_origin_requests_total":                    {"counter", "origin,server", "Calls sent to an origin server (what reached the shop)."},
	"flashgate_origin_errors_total":                      {"counter", "origin,kind", "Failed origin calls, by origin and kind (timeout, refused, busy, no_healthy, ...)."},
	"flashgate_origin_server_errors_total":               {"counter", "origin,server", "Failed origin calls, by origin server."},
	"flashgate_origin_stale_conns_total":                 {"counter", "origin,server", "Keep-alive connections found closed by the server before a request went out on them (it went on a new one)."},
	"flashgate_origin_server_in_flight":                  {"gauge", "origin,server", "Origin calls in progress, by origin server."},
	"flashgate_origin_max_conns":                         {"gauge", "origin,server", "Connection limit of an origin server (origins.*.max_conns)."},
	"flashgate_upstream_up":                              {"gauge", "origin,server", "1 while the health check keeps the server in rotation."},
	"flashgate_origin_breaker_open":                      {"gauge", "origin,server", "1 while the server's circuit breaker is open (or half-open: probing)."},
	"flashgate_origin_in_flight":                         {"gauge", "origin", "Calls holding a slot of the origin's concurrency limit."},
	"flashgate_origin_limit":                             {"gauge", "origin", "The origin's current concurrency limit (static or adaptive; 0: none)."},
	"flashgate_origin_shed_total":                        {"counter", "origin,priority", "Calls shed by the origin's concurrency limit, by route priority."},
	"flashgate_origin_all_down_total":                    {"counter", "origin", "Requests sent to servers the health checks marked down, because all of them were (health.all_down: send)."},
	"flashgate_stock_holds":                              {"gauge", "route", "Holds open now: units held until paid, cancelled or expired."},
	"flashgate_stock_holds_total":                        {"counter", "route", "Holds taken."},
	"flashgate_stock_holds_released_total":               {"counter", "route,outcome", "Holds ended by the shop's confirmation (paid, cancelled)."},
	"flashgate_stock_hold_confirmations_refused_total":   {"counter", "route", "Confirmations refused: forged, replayed, or for an order that holds nothing."},
	"flashgate_tls_certificate_expiry_timestamp_seconds": {"gauge", "", "Unix time the earliest server.tls certificate expires."},
	"flashgate_edge_refused_total":                       {"counter", "reason", "Connections closed at the listener (reason proxy_protocol: a trusted balancer sent no valid PROXY header)."},

	// Hot keys and Plan B switches (docs/protection.md).
	"flashgate_hotspot_turned_hot_total":   {"counter", "kind", "Keys that turned hot, by key kind."},
	"flashgate_hotspot_cooled_total":       {"counter", "kind", "Hot keys that cooled down, by key kind."},
	"flashgate_hotspot_hot_keys":           {"gauge", "", "Keys hot now (static ones included)."},
	"flashgate_hotspot_samples_total":      {"counter", "", "Requests sampled for hot-key detection."},
	"flashgate_hotspot_samples_lost_total": {"counter", "", "Samples dropped because the detector fell behind."},
	"flashgate_switches_on":                {"gauge", "", "Plan B switches on now."},
	"flashgate_switch_changes_total":       {"counter", "kind", "Plan B switches turned on or off, by kind."},
	"flashgate_access_log_dropped_total":   {"counter", "", "Access log lines dropped because the writer fell behind."},

	// The process (from VictoriaMetrics/metrics; the rest of its series are
	// left out to keep the page to what an operator reads).
	"go_goroutines":                 {"gauge", "", "Goroutines."},
	"go_gomaxprocs":                 {"gauge", "", "GOMAXPROCS: the CPUs Go schedules on."},
	"go_memstats_heap_inuse_bytes":  {"gauge", "", "Heap bytes in use."},
	"go_memstats_sys_bytes":         {"gauge", "", "Bytes obtained from the operating system."},
	"go_gc_duration_seconds":        {"summary", "quantile", "Garbage collection pause durations."},
	"process_cpu_seconds_total":     {"counter", "", "CPU time used by the process."},
	"process_resident_memory_bytes": {"gauge", "", "Resident memory of the process."},
	"process_start_time_seconds":    {"gauge", "", "Unix time the process started."},
	"process_open_fds":              {"gauge", "", "Open file descriptors."},
	"process_max_fds":               {"gauge", "", "The file descriptor limit."},
}
