package availability

// SetMirrorSplit sets the size from which s writes a heartbeat mirror with parallel
// statements (tests use small sizes to run that path).
func SetMirrorSplit(s *PostgresStore, n int) { s.mirrorSplit = n }
