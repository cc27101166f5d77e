package curhat

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClientSweeps_EveryRowHasANameADocLineACadenceAndAJob(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	fields := map[*time.Duration]string{}
	var sc SweepsConfig
	for _, sw := range clientSweeps {
		require.NotEmpty(t, sw.name)
		require.False(t, names[sw.name], "%s: a name is used once (it keys the lock and the metrics)", sw.name)
		names[sw.name] = true
		require.NotEmpty(t, sw.doc, "%s: says what it does", sw.name)
		require.NotContains(t, sw.doc, "\n", "%s: one line", sw.name)
		require.Positive(t, sw.interval, "%s: has a default cadence", sw.name)
		require.NotNil(t, sw.run, "%s: has a job", sw.name)
		require.NotNil(t, sw.every, "%s: has a SweepsConfig field", sw.name)
		f := sw.every(&sc)
		other, shared := fields[f]
		require.False(t, shared, "%s: shares its SweepsConfig field with %s", sw.name, other)
		fields[f] = sw.name
	}
	// Every cadence field of SweepsConfig belongs to a row: a sweep cannot be added to the
	// config and forgotten in the table.
	var durations int
	typ := reflect.TypeFor[SweepsConfig]()
	for i := range typ.NumField() {
		if typ.Field(i).Type == reflect.TypeFor[time.Duration]() {
			durations++
		}
	}
	require.Equal(t, durations, len(clientSweeps))

	// An unset cadence is the row's default.
	d := (&Config{}).withDefaults()
	for _, sw := range clientSweeps {
		require.Equal(t, sw.interval, *sw.every(&d.Sweeps), sw.name)
	}
}

// The docs point to the table and list no sweep of their own, so there is nothing to drift.
func TestClientSweeps_TheDocsPointToTheTableInsteadOfListingTheSweeps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		// paragraph splits the file into the paragraphs a list could hide in.
		sep string
	}{
		{"sweeps/doc.go", "\n//\n"},
		{"README.md", "\n\n"},
	} {
		b, err := os.ReadFile(tc.file)
		require.NoError(t, err)
		var pointer string
		for _, p := range strings.Split(string(b), tc.sep) {
			if strings.Contains(p, "client_sweeps.go") {
				pointer = p
			}
		}
		require.NotEmpty(t, pointer, "%s points to client_sweeps.go", tc.file)
		// The paragraph that points to the table (and the whole of the sweeps package's
		// doc) names no sweep.
		text := strings.ToLower(pointer)
		if tc.file == "sweeps/doc.go" {
			text = strings.ToLower(string(b))
		}
		for _, sw := range clientSweeps {
			for _, form := range []string{sw.name, strings.ReplaceAll(sw.name, "_", " "), strings.ReplaceAll(sw.name, "_", "-")} {
				require.NotContains(t, text, form, "%s lists the sweep %s beside the table", tc.file, sw.name)
			}
		}
	}
}
