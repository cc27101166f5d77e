package pubsub

import (
	"context"
	"log/slog"
	"sync"
)

// queue hands one subscription's events from the transport, which must never wait, to the
// subscriber's goroutine. It keeps them in order and holds at most max of them: past that,
// the waiting ones become one Reset counting the dropped messages.
type queue struct {
	topic  string
	max    int
	onDrop func(topic string, n int)
	log    *slog.Logger

	mu         sync.Mutex
	items      []event
	subscribed bool // the state as of the last event queued
	wake       chan struct{}
}

// event is a message, or a reset when isReset.
type event struct {
	payload []byte
	isReset bool
	reset   Reset
}

func newQueue(topic string, cfg Config) *queue {
	return &queue{topic: topic, max: cfg.Buffer, onDrop: cfg.OnDrop, log: cfg.Logger, wake: make(chan struct{}, 1)}
}

// message queues a payload.
func (q *queue) message(payload []byte) {
	q.mu.Lock()
	dropped := 0
	if len(q.items) >= q.max {
		dropped = q.overflow()
	}
	q.items = append(q.items, event{payload: payload})
	q.mu.Unlock()
	q.signal()
	if dropped > 0 && q.onDrop != nil {
		q.onDrop(q.topic, dropped)
	}
}

// state queues a change of subscription state. A loss while not subscribed is no news and
// is not queued; a subscription is, every time (each may follow missed messages).
func (q *queue) state(subscribed bool) {
	q.mu.Lock()
	if !subscribed && !q.subscribed {
		q.mu.Unlock()
		return
	}
	q.subscribed = subscribed
	dropped := 0
	if len(q.items) >= q.max {
		dropped = q.overflow() // its reset carries the new state
	} else {
		q.items = append(q.items, event{isReset: true, reset: Reset{Subscribed: subscribed}})
	}
	q.mu.Unlock()
	q.signal()
	if dropped > 0 && q.onDrop != nil {
		q.onDrop(q.topic, dropped)
	}
}

// overflow replaces every waiting event with one reset that counts the messages dropped
// (those waiting, and those a waiting reset already counted) and carries the current
// state. It returns how many messages it dropped now. Callers hold q.mu.
func (q *queue) overflow() int {
	now, earlier := 0, 0
	for _, e := range q.items {
		if e.isReset {
			earlier += e.reset.Dropped
		} else {
			now++
		}
	}
	clear(q.items) // let the payloads go
	q.items = append(q.items[:0], event{isReset: true, reset: Reset{Subscribed: q.subscribed, Dropped: earlier + now}})
	return now
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers the queued events to h, in order, until ctx ends.
func (q *queue) run(ctx context.Context, h Handler) {
	var batch []event
	down := false // the last reset delivered said the subscription was lost
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		q.mu.Unlock()
		for i, e := range batch {
			if ctx.Err() != nil {
				return
			}
			if e.isReset {
				q.logReset(e.reset, down)
				down = !e.reset.Subscribed
			}
			switch {
			case e.isReset && h.Reset != nil:
				h.Reset(e.reset)
			case !e.isReset && h.Message != nil:
				h.Message(e.payload)
			}
			batch[i] = event{}
		}
	}
}

// logReset tells the log what a subscriber is told, on its goroutine (never on the
// transport's receive path).
func (q *queue) logReset(r Reset, wasDown bool) {
	switch {
	case r.Dropped > 0:
		q.log.Warn("pubsub: subscriber fell behind; messages dropped and reported as a reset",
			"topic", q.topic, "dropped", r.Dropped, "subscribed", r.Subscribed)
	case !r.Subscribed:
		q.log.Warn("pubsub: subscription lost; the subscriber drops what it cached", "topic", q.topic)
	case wasDown:
		q.log.Info("pubsub: resubscribed", "topic", q.topic)
	}
}
