package events

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBus is a Bus over Redis pub/sub: the Redis the instances already
// share for limits and breakers. Pub/sub keeps nothing; a message sent
// while an instance is not subscribed is lost, which Listen makes up for
// by waking every stream when it (re)subscribes.
type RedisBus struct {
	rdb     *redis.Client
	channel string
}

// NewRedisBus announces on the channel prefix + "events".
func NewRedisBus(rdb *redis.Client, prefix string) *RedisBus {
	return &RedisBus{rdb: rdb, channel: prefix + "events"}
}

// Publish implements Bus.
func (b *RedisBus) Publish(ctx context.Context, msg string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return b.rdb.Publish(ctx, b.channel, msg).Err()
}

// Listen implements Bus; go-redis resubscribes after a lost connection
// and reports it as a new subscription.
func (b *RedisBus) Listen(ctx context.Context, got func(string), resync func()) {
	ps := b.rdb.Subscribe(ctx, b.channel)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch v := m.(type) {
			case *redis.Subscription:
				resync()
			case *redis.Message:
				got(v.Payload)
			}
		}
	}
}
