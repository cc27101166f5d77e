package sweeps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Locker grants one instance at a time the right to run a sweep's cycle.
type Locker interface {
	// TryLock takes the lock called name for ttl without waiting. ok is false when another
	// holder has it. release gives it back early (it is safe to call more than once, and
	// never removes a lock that expired and was taken by someone else).
	TryLock(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error)
}

// LockCallTimeout bounds every Valkey call of the Valkey locker.
const LockCallTimeout = time.Second

// NewValkeyLocker returns a Locker on Valkey keys prefix+"sweeps:lock:"+name (SET NX PX to
// take, a compare-and-delete script to release). With a cluster, give the prefix a hash tag
// like the other keys (valkeyutil.Names.Key("")).
func NewValkeyLocker(client valkey.Client, prefix string) Locker {
	return &valkeyLocker{client: client, prefix: prefix}
}

type valkeyLocker struct {
	client valkey.Client
	prefix string
}

// releaseScript deletes the lock only if it still holds our token.
var releaseScript = valkey.NewLuaScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

func (l *valkeyLocker) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	key := l.prefix + "sweeps:lock:" + name
	token := newToken()
	cctx, cancel := context.WithTimeout(ctx, LockCallTimeout)
	defer cancel()
	ms := max(ttl.Milliseconds(), 1)
	err := l.client.Do(cctx, l.client.B().Set().Key(key).Value(token).Nx().PxMilliseconds(ms).Build()).Error()
	if valkey.IsValkeyNil(err) {
		return nil, false, nil // NX refused: held by another
	}
	if err != nil {
		return nil, false, fmt.Errorf("take sweep lock %s: %w", name, err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			// Releasing often follows a cancelled run: use a context of our own.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LockCallTimeout)
			defer cancel()
			// A failed release is harmless: the lock expires with its TTL.
			_ = releaseScript.Exec(rctx, l.client, []string{key}, []string{token}).Error()
		})
	}
	return release, true, nil
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
