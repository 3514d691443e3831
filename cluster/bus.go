package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bus messages: one Redis channel (prefix+"bus") carries every topic, as
// "topic\nsender\npayload"; a handler never sees its own instance's
// messages. Delivery is at most once (Redis pub/sub): a subscriber that
// was disconnected has missed messages, so state that must converge is
// kept in keys and read again on OnResubscribe.

// Publish sends payload on topic to every other instance. It fails when
// Redis is down (the caller has already applied the change locally).
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if !r.Up() {
		return errDown
	}
	msg := topic + "\n" + r.id + "\n" + string(payload)
	err := r.client.Publish(ctx, r.opts.Prefix+"bus", msg).Err()
	r.ok(err)
	return err
}

// Subscribe registers fn for the messages of topic sent by other
// instances. fn runs on the store's one listener goroutine: it must not
// block. Register before traffic: messages sent before are not replayed.
func (r *Redis) Subscribe(topic string, fn func(payload []byte)) {
	r.subsMu.Lock()
	r.subs[topic] = append(r.subs[topic], fn)
	r.subsMu.Unlock()
}

// OnResubscribe registers fn to run after every (re)subscription, when
// messages may have been missed.
func (r *Redis) OnResubscribe(fn func()) {
	r.subsMu.Lock()
	r.resyncs = append(r.resyncs, fn)
	r.subsMu.Unlock()
}

type downError struct{}

func (downError) Error() string { return "cluster: redis is down (breaker open)" }

var errDown error = downError{}

// listen is the subscriber goroutine: it keeps one subscription to the
// flags and bus channels (go-redis reconnects and resubscribes; each
// resubscription arrives here as a *redis.Subscription), empties the flag
// cache on each (flags are read again from their keys) and dispatches.
func (r *Redis) listen() {
	defer r.wg.Done()
	flags, bus := r.opts.Prefix+"flags", r.opts.Prefix+"bus"
	ps := r.client.Subscribe(r.ctx, flags, bus)
	defer ps.Close()
	for {
		msg, err := ps.Receive(r.ctx)
		if r.ctx.Err() != nil {
			return
		}
		if err != nil {
			// Redis is away; go-redis reconnects on the next Receive.
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == bus {
				r.resubscribed()
			}
		case *redis.Message:
			if m.Channel == flags {
				r.flags.announcement(m.Payload, time.Now().UnixNano())
			} else {
				r.dispatch(m.Payload)
			}
		}
	}
}

func (r *Redis) resubscribed() {
	r.flags.clear()
	r.subsMu.Lock()
	fns := append([]func(){}, r.resyncs...)
	r.subsMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (r *Redis) dispatch(msg string) {
	topic, rest, ok := strings.Cut(msg, "\n")
	sender, payload, ok2 := strings.Cut(rest, "\n")
	if !ok || !ok2 || sender == r.id {
		return
	}
	r.subsMu.Lock()
	fns := r.subs[topic]
	r.subsMu.Unlock()
	for _, fn := range fns {
		fn([]byte(payload))
	}
}
