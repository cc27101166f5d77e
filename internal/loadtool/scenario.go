package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// scenario is one measurement the tool can run on its own (-scenario): it prints its
// tables, or a "skipped: reason" line when it could not measure.
type scenario struct {
	name string
	run  func(t *tool, ctx context.Context) error
}

// scenarios in the order of a full run.
var scenarios = []scenario{
	{"hot-paths", (*tool).hotPaths},
	{"sweeps", (*tool).sweepsScenario},
	{"offer-delivery", (*tool).offerDelivery},
	{"stream-cost", (*tool).streamCost},
	{"pairing-statements", (*tool).pairingStatements},
	{"accept-burst", (*tool).acceptBurst},
	{"match-throughput", (*tool).matchThroughput},
	{"stats-under-load", (*tool).statsUnderLoad},
	{"queue", (*tool).queueScenario},
	{"message-delivery", (*tool).messageDelivery},
	{"routing", (*tool).routingScenario},
}

func scenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// parseScenarios reads -scenario: "all" or a comma-separated list of names, run in the
// order of the full run.
func parseScenarios(raw string) ([]string, error) {
	raw = strings.TrimSpace(raw)
	var out []string
	if raw == "" || raw == "all" {
		for _, s := range scenarios {
			out = append(out, s.name)
		}
		return out, nil
	}
	want := map[string]bool{}
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }) {
			return nil, fmt.Errorf("-scenario: no scenario %q (have %s, or all)", name, scenarioNames())
		}
		want[name] = true
	}
	for _, s := range scenarios {
		if want[s.name] {
			out = append(out, s.name)
		}
	}
	return out, nil
}

// runScenarios runs the selected scenarios one after another. A scenario that fails prints
// "skipped: reason" and the next one runs; the end of ctx (-max-time, Ctrl-C) skips what
// is left.
func (t *tool) runScenarios(ctx context.Context) {
	for _, name := range t.o.scenarios {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
		s := scenarios[i]
		if ctx.Err() != nil {
			fmt.Printf("# %s\n\nskipped: %v\n\n", s.name, context.Cause(ctx))
			continue
		}
		logf("scenario %s", s.name)
		began := time.Now()
		err := s.run(t, ctx)
		logf("scenario %s took %s", s.name, time.Since(began).Round(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
			}
			fmt.Printf("%s: skipped: %v\n\n", s.name, oneLine(err))
		}
	}
}
