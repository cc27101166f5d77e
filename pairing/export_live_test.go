package pairing

// The live lists' SQL, for the benchmark that logs their plans (live_bench_test.go).
var (
	WaitingPairingsSQL  = waitingPairingsSQL
	WaitingPairingsArgs = waitingPairingsArgs
	ActiveSessionsSQL   = activeSessionsSQL
)
