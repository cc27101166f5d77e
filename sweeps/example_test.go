package sweeps_test

import (
	"context"
	"fmt"

	"github.com/curhat/curhat/sweeps"
	"github.com/curhat/curhat/sweeps/sweepstest"
)

func Example() {
	// In production: sweeps.NewValkeyLocker(client, names.Key("")) shared by every instance.
	locker := sweepstest.NewLocker(nil)
	job := func(ctx context.Context) (sweeps.Report, error) {
		// ... expire stale payment sessions ...
		return sweeps.Report{Counts: map[string]int{"expired": 2}}, nil
	}
	s, err := sweeps.New(job, sweeps.Config{
		Name:     "stale_payments",
		Interval: sweeps.DefaultPaymentSweepInterval,
		Lock:     locker,
		Hooks: sweeps.Hooks{SweepRun: func(name string, r sweeps.Report, err error) {
			fmt.Println(name, r.Counts, r.Skipped, err)
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Stop(ctx)

	// RunOnce runs a cycle now; a second one within the same cycle is skipped, as it would
	// be on another instance.
	_, _ = s.RunOnce(ctx)
	_, _ = s.RunOnce(ctx)
	// Output:
	// stale_payments map[expired:2] false <nil>
	// stale_payments map[] true <nil>
}
