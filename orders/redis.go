package orders

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"flashgate/cluster"
)

// Redis is the Queue every instance shares: a stream read by one consumer
// group (each instance a consumer), so any instance delivers any ticket;
// a ticket's state in a key of its own that any instance reads; the one
// pending ticket per buyer and item as a SET NX key. All keys share one
// hash tag (one Redis Cluster slot). Accepted jobs survive the process
// that took them: a job read by an instance that died is claimed by
// another once it has been idle for claimAfter, and delivered again with
// the same Idempotency-Key (its ticket).
//
// Jobs carry their request (serialized) and State; Meta does not cross
// instances. DrainItem returns nothing: jobs of a sold-out item are
// answered at the edge as they are taken (Deliverer.SoldOut), which with
// no delivery to wait for is at once. Safe for concurrent use.
type Redis struct {
	r          *cluster.Redis
	c          redis.UniversalClient
	limit      int
	keep       time.Duration
	claimAfter time.Duration
	consumer   string
	stream     string
	seq, taken string // counters: jobs ever queued, ever taken
	prefix     string // + "t:" + ticket, + "d:" + dedupe
}

const redisGroup = "dispatch"

// NewRedis returns the shared queue named key (a route's state key) of at
// most limit pending jobs, outcomes kept for keep, jobs of dead instances
// claimed after claimAfter (longer than a job's deliveries take).
func NewRedis(r *cluster.Redis, key uint64, limit int, keep, claimAfter time.Duration) *Redis {
	base := r.Key(key)
	q := &Redis{r: r, c: r.Client(), limit: limit, keep: keep, claimAfter: claimAfter, consumer: NewTicket(),
		stream: base + ":orders", seq: base + ":oseq", taken: base + ":otaken", prefix: base + ":o"}
	return q
}

var _ Queue = (*Redis)(nil)

// ensureGroup creates the consumer group (and stream) once.
func (q *Redis) ensureGroup(ctx context.Context) error {
	err := q.c.XGroupCreateMkStream(ctx, q.stream, redisGroup, "0").Err()
	if err != nil && !isBusyGroup(err) {
		return err
	}
	return nil
}

func isBusyGroup(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("BUSYGROUP"))
}

// submitScript: KEYS stream, seq, taken, dedupe key, ticket key.
// ARGV: limit, ticket, keep ms, then the stream fields.
// Returns {ticket, place, dup} or {"", 0, -1} when full.
var submitScript = redis.NewScript(`
local existing = redis.call('GET', KEYS[4])
if existing then
  local st = redis.call('GET', KEYS[5]:sub(1, #KEYS[5] - #ARGV[2]) .. existing)
  local seq = 0
  if st then seq = tonumber(cjson.decode(st).seq) or 0 end
  local place = seq - (tonumber(redis.call('GET', KEYS[3])) or 0)
  if place < 0 then place = 0 end
  return {existing, place, 1}
end
local pending = (tonumber(redis.call('GET', KEYS[2])) or 0) - (tonumber(redis.call('GET', KEYS[3])) or 0)
if pending >= tonumber(ARGV[1]) then return {'', 0, -1} end
local seq = redis.call('INCR', KEYS[2])
local fields = {}
for i = 4, #ARGV do fields[#fields+1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', 'seq', seq, unpack(fields))
if KEYS[4] ~= KEYS[5] then redis.call('SET', KEYS[4], ARGV[2]) end
redis.call('SET', KEYS[5], cjson.encode({state='pending', seq=seq}), 'PX', ARGV[3])
return {ARGV[2], seq - (tonumber(redis.call('GET', KEYS[3])) or 0), 0}
`)

func (q *Redis) ticketKey(t string) string       { return q.prefix + "t:" + t }
func (q *Redis) dedupeKey(d uint64) string       { return q.prefix + "d:" + strconv.FormatUint(d, 10) }
func (q *Redis) ctx() context.Context            { return context.Background() }
func (q *Redis) failed(err error) error          { q.r.Failed(err); return err }
func (q *Redis) Durable() bool                   { return true }
func (q *Redis) DrainItem(string) []*Job         { return nil }
func (q *Redis) ttlMillis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Submit implements Queue.
func (q *Redis) Submit(j *Job, now int64) (string, int, bool, error) {
	if j.Ticket == "" {
		j.Ticket = NewTicket()
	}
	var req bytes.Buffer
	if _, err := j.Req.WriteTo(&req); err != nil {
		return "", 0, false, err
	}
	dedupe := q.ticketKey(j.Ticket) // no dedupe: a key nobody else uses
	if j.Dedupe != 0 {
		dedupe = q.dedupeKey(j.Dedupe)
	}
	// The ticket key's pending TTL bounds an orphan: it is rewritten when
	// the job is taken and when it ends.
	res, err := submitScript.Run(q.ctx(), q.c, []string{q.stream, q.seq, q.taken, dedupe, q.ticketKey(j.Ticket)},
		q.limit, j.Ticket, q.ttlMillis(q.keep+q.claimAfter+time.Hour),
		"ticket", j.Ticket, "item", j.Item, "dedupe", strconv.FormatUint(j.Dedupe, 10),
		"accepted", strconv.FormatInt(j.Accepted, 10), "req", req.String(), "state", string(j.State)).Result()
	if err != nil {
		return "", 0, false, q.failed(err)
	}
	a := res.([]any)
	switch a[2].(int64) {
	case -1:
		return "", 0, false, ErrFull
	case 1:
		return a[0].(string), int(a[1].(int64)), true, nil
	}
	return j.Ticket, int(a[1].(int64)), false, nil
}

// Next implements Queue: a new job from the stream, else one a dead
// instance read and never finished, else a short wait.
func (q *Redis) Next(ctx context.Context) (*Job, error) {
	if err := q.ensureGroup(ctx); err != nil {
		q.failed(err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if j := q.readNew(ctx); j != nil {
			return j, nil
		}
		if j := q.claim(ctx); j != nil {
			return j, nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (q *Redis) readNew(ctx context.Context) *Job {
	res, err := q.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: redisGroup, Consumer: q.consumer,
		Streams: []string{q.stream, ">"}, Count: 1, Block: -1}).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			if isNoGroup(err) {
				_ = q.ensureGroup(ctx)
			} else {
				q.failed(err)
			}
		}
		return nil
	}
	if len(res) == 0 || len(res[0].Messages) == 0 {
		return nil
	}
	q.c.Incr(ctx, q.taken)
	return q.taking(ctx, res[0].Messages[0])
}

func isNoGroup(err error) bool { return bytes.Contains([]byte(err.Error()), []byte("NOGROUP")) }

// claim takes over a job another consumer read more than claimAfter ago
// and never acknowledged: its instance died mid-delivery.
func (q *Redis) claim(ctx context.Context) *Job {
	msgs, _, err := q.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: q.stream, Group: redisGroup,
		Consumer: q.consumer, MinIdle: q.claimAfter, Start: "0-0", Count: 1}).Result()
	if err != nil || len(msgs) == 0 {
		return nil
	}
	return q.taking(ctx, msgs[0])
}

// taking turns a stream entry into a Job and marks its ticket delivering.
func (q *Redis) taking(ctx context.Context, m redis.XMessage) *Job {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	j := &Job{Ticket: str("ticket"), Item: str("item"), State: []byte(str("state")), Req: &fasthttp.Request{},
		stream: m.ID}
	j.Dedupe, _ = strconv.ParseUint(str("dedupe"), 10, 64)
	j.Accepted, _ = strconv.ParseInt(str("accepted"), 10, 64)
	seq, _ := strconv.ParseInt(str("seq"), 10, 64)
	if err := j.Req.Read(bufio.NewReader(bytes.NewReader([]byte(str("req"))))); err != nil {
		// Unreadable: end it, or it would be claimed for ever.
		q.c.XAck(ctx, q.stream, redisGroup, m.ID)
		return nil
	}
	st, _ := json.Marshal(redisTicket{State: "delivering", Seq: seq})
	q.c.Set(ctx, q.ticketKey(j.Ticket), st, q.keep+q.claimAfter+time.Hour)
	return j
}

// redisTicket is a ticket's state as stored.
type redisTicket struct {
	State    string `json:"state"`
	Seq      int64  `json:"seq,omitempty"`
	Accepted int64  `json:"accepted,omitempty"`
	Finished int64  `json:"finished,omitempty"`
	Result   Result `json:"result"`
}

// Finish implements Queue.
func (q *Redis) Finish(j *Job, r Result, now int64) {
	st, _ := json.Marshal(redisTicket{State: "done", Accepted: j.Accepted, Finished: now, Result: r})
	pipe := q.c.TxPipeline()
	pipe.Set(q.ctx(), q.ticketKey(j.Ticket), st, q.keep)
	if j.Dedupe != 0 {
		pipe.Del(q.ctx(), q.dedupeKey(j.Dedupe))
	}
	if j.stream != "" {
		pipe.XAck(q.ctx(), q.stream, redisGroup, j.stream)
		pipe.XDel(q.ctx(), q.stream, j.stream)
	}
	if _, err := pipe.Exec(q.ctx()); err != nil {
		q.failed(err)
	}
}

// Status implements Queue.
func (q *Redis) Status(ticket string, now int64) (Status, bool) {
	b, err := q.c.Get(q.ctx(), q.ticketKey(ticket)).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			q.failed(err)
		}
		return Status{}, false
	}
	var t redisTicket
	if json.Unmarshal(b, &t) != nil {
		return Status{}, false
	}
	st := Status{Ticket: ticket, Accepted: t.Accepted, Finished: t.Finished, Result: t.Result}
	switch t.State {
	case "pending":
		taken, _ := q.c.Get(q.ctx(), q.taken).Int64()
		st.State, st.Place = Pending, int(max(t.Seq-taken, 1))
	case "delivering":
		st.State = Delivering
	default:
		st.State = Done
	}
	return st, true
}

// Len implements Queue: jobs queued and not yet taken.
func (q *Redis) Len() int {
	vals, err := q.c.MGet(q.ctx(), q.seq, q.taken).Result()
	if err != nil {
		return 0
	}
	n := func(v any) int64 { s, _ := v.(string); i, _ := strconv.ParseInt(s, 10, 64); return i }
	return int(max(n(vals[0])-n(vals[1]), 0))
}
