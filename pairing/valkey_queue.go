package pairing

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// Defaults of ValkeyQueueConfig.
const (
	// DefaultQueueIndexTimeout bounds one call of the index on a request's path: a read
	// (a position, the length), the write that follows a transition (made while the
	// pairing's row is locked), an invalidation.
	DefaultQueueIndexTimeout = 300 * time.Millisecond
	// DefaultQueueIndexRebuildTimeout bounds each round trip of a rebuild.
	DefaultQueueIndexRebuildTimeout = 5 * time.Second
	// DefaultQueueIndexChunk is how many pairings one command of a rebuild adds.
	DefaultQueueIndexChunk = 500
)

// ValkeyQueueConfig configures NewValkeyQueueIndex. The zero value works.
type ValkeyQueueConfig struct {
	// Names gives the key names (prefix, cluster hash tag). Defaults to the unprefixed
	// names.
	Names valkeyutil.Names
	// Timeout: see DefaultQueueIndexTimeout. Defaults to 300 ms.
	Timeout time.Duration
	// RebuildTimeout: see DefaultQueueIndexRebuildTimeout. Defaults to 5 seconds.
	RebuildTimeout time.Duration
	// ChunkSize: see DefaultQueueIndexChunk. Defaults to 500.
	ChunkSize int
}

// ValkeyQueueIndex is the QueueIndex over Valkey (or Redis ≥ 7):
//
//   - pairings:queue (ZSET): queued pairing id → paid_at in unix microseconds, so that
//     ZRANK orders as the Store does (paid_at, then the id, whose lowercase text sorts as
//     its bytes) — a position is one ZRANK, the length one ZCARD, O(log n) and O(1);
//   - pairings:queue_built (STRING): present once a rebuild completed; a Valkey that lost
//     its data (or an instance that failed to write) leaves the index unbuilt, and every
//     reader goes to the Store until the next rebuild;
//   - pairings:queue_building (ZSET): a rebuild in progress, renamed over pairings:queue
//     at once when complete.
//
// With cluster names (one hash tag) the three keys share a slot.
type ValkeyQueueIndex struct {
	c                      valkey.Client
	cfg                    ValkeyQueueConfig
	queue, built, building string
	swap                   *valkeyutil.Script
}

var _ QueueIndex = (*ValkeyQueueIndex)(nil)

// swapScript puts a complete rebuild in place: KEYS building, queue, built.
const swapScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[3], ARGV[1])
return 1`

// NewValkeyQueueIndex returns a QueueIndex over client.
func NewValkeyQueueIndex(client valkey.Client, cfg ValkeyQueueConfig) *ValkeyQueueIndex {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultQueueIndexTimeout)
	cfg.RebuildTimeout = cmp.Or(cfg.RebuildTimeout, DefaultQueueIndexRebuildTimeout)
	cfg.ChunkSize = cmp.Or(cfg.ChunkSize, DefaultQueueIndexChunk)
	n := cfg.Names
	return &ValkeyQueueIndex{
		c: client, cfg: cfg,
		queue: n.Key("pairings:queue"), built: n.Key("pairings:queue_built"), building: n.Key("pairings:queue_building"),
		// A second run of the swap would find no building key and drop the index.
		swap: valkeyutil.NewScript(swapScript, false),
	}
}

func score(paidAt time.Time) string { return strconv.FormatInt(paidAt.UnixMicro(), 10) }

// read runs a read with the index's marker: ErrQueueIndexNotBuilt without it.
func (x *ValkeyQueueIndex) read(ctx context.Context, cmd valkey.Completed) (valkey.ValkeyResult, error) {
	ctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	res := x.c.DoMulti(ctx, x.c.B().Exists().Key(x.built).Build(), cmd)
	built, err := res[0].AsInt64()
	if err != nil {
		return valkey.ValkeyResult{}, fmt.Errorf("queue index: %w", err)
	}
	if built == 0 {
		return valkey.ValkeyResult{}, ErrQueueIndexNotBuilt
	}
	return res[1], nil
}

func (x *ValkeyQueueIndex) Position(ctx context.Context, pairingID uuid.UUID) (int, error) {
	res, err := x.read(ctx, x.c.B().Zrank().Key(x.queue).Member(pairingID.String()).Build())
	if err != nil {
		return 0, err
	}
	rank, err := res.AsInt64()
	if valkey.IsValkeyNil(err) {
		return 0, fmt.Errorf("pairing %s in the queue index: %w", pairingID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("queue index: %w", err)
	}
	return int(rank) + 1, nil
}

func (x *ValkeyQueueIndex) Length(ctx context.Context) (int, error) {
	res, err := x.read(ctx, x.c.B().Zcard().Key(x.queue).Build())
	if err != nil {
		return 0, err
	}
	n, err := res.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("queue index: %w", err)
	}
	return int(n), nil
}

func (x *ValkeyQueueIndex) Apply(ctx context.Context, entries []QueueEntry) error {
	if len(entries) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	cmds := make(valkey.Commands, 0, len(entries))
	for _, e := range entries {
		if e.Queued {
			cmds = append(cmds, x.c.B().Zadd().Key(x.queue).ScoreMember().ScoreMember(float64(e.PaidAt.UnixMicro()), e.ID.String()).Build())
		} else {
			cmds = append(cmds, x.c.B().Zrem().Key(x.queue).Member(e.ID.String()).Build())
		}
	}
	for _, r := range x.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("queue index: %w", err)
		}
	}
	return nil
}

func (x *ValkeyQueueIndex) Replace(ctx context.Context, entries []QueueEntry) error {
	if err := x.roundTrip(ctx, x.cfg.RebuildTimeout, x.c.B().Del().Key(x.building).Build()); err != nil {
		return err
	}
	for start := 0; start < len(entries); start += x.cfg.ChunkSize {
		chunk := entries[start:min(start+x.cfg.ChunkSize, len(entries))]
		z := x.c.B().Zadd().Key(x.building).ScoreMember()
		for _, e := range chunk {
			z = z.ScoreMember(float64(e.PaidAt.UnixMicro()), e.ID.String())
		}
		if err := x.roundTrip(ctx, x.cfg.RebuildTimeout, z.Build()); err != nil {
			return err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, x.cfg.RebuildTimeout)
	defer cancel()
	marker := strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := x.swap.Exec(rctx, x.c, []string{x.building, x.queue, x.built}, []string{marker}).Error(); err != nil {
		return fmt.Errorf("queue index: swap: %w", err)
	}
	return nil
}

func (x *ValkeyQueueIndex) roundTrip(ctx context.Context, timeout time.Duration, cmd valkey.Completed) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := x.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("queue index: %w", err)
	}
	return nil
}

func (x *ValkeyQueueIndex) Invalidate(ctx context.Context) error {
	return x.roundTrip(ctx, x.cfg.Timeout, x.c.B().Del().Key(x.built).Build())
}
