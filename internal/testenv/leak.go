package testenv

import (
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the package's tests and then fails if goroutines are left behind.
// Use it as: func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
// It also keeps the package's Redis Cluster (StartCluster) from one test to the next, and
// stops it when the tests are done.
func VerifyNoLeaks(m *testing.M) {
	shared.mu.Lock()
	shared.untilExit = true
	shared.mu.Unlock()
	goleak.VerifyTestMain(m,
		goleak.Cleanup(func(int) { stopSharedCluster() }),
		// pgxpool's background health check and valkey-go's shared background workers
		// outlive individual tests by design; everything of ours must not.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).triggerHealthCheck.func1"),
		goleak.IgnoreTopFunction("github.com/jackc/puddle/v2.(*Pool[...]).backgroundCreate"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

// NewID returns a random UUID (a shorthand for tests).
func NewID() uuid.UUID { return uuid.New() }
