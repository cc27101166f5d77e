package curhat_test

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/curhat/curhat"

// The domains of the SDK. None imports the root package (which imports them all, to
// compose them); each may import the domains listed for it in domainImports and no other.
var domains = []string{"availability", "pricing", "payment", "pairing", "extension", "chat", "safety", "sweeps"}

// domainImports is the one direction in which the domains may import each other,
// pricing ← payment ← pairing ← extension: each value type is declared by the domain that
// owns it (pricing.Quote, payment.Session, pairing.ChatSession) and used from there by the
// domains downstream. Availability and the sweeps runner import no domain.
var domainImports = map[string][]string{
	"availability": nil,
	"sweeps":       nil,
	"pricing":      nil,
	"payment":      {"pricing"},
	"pairing":      {"payment", "pricing"},
	"extension":    {"pairing", "payment", "pricing"},
	"chat":         {"pairing"},
	"safety":       {"chat", "pairing"},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

// listPackages runs `go list` over the module: every package with the imports of its
// non-test files.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// domainOf returns the domain a package path belongs to ("pairing" for pairing and
// pairing/pairingtest), or "".
func domainOf(path string) string {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rel, "/")
	if slices.Contains(domains, first) {
		return first
	}
	return ""
}

func TestImports_DomainsDoNotImportTheRoot(t *testing.T) {
	for _, p := range listPackages(t) {
		if domainOf(p.ImportPath) != "" && slices.Contains(p.Imports, module) {
			t.Errorf("%s imports the root package", p.ImportPath)
		}
	}
}

func TestImports_DomainsImportEachOtherOneWay(t *testing.T) {
	require.ElementsMatch(t, domains, slices.Collect(maps.Keys(domainImports)))
	for _, p := range listPackages(t) {
		d := domainOf(p.ImportPath)
		// The …test packages (contract suites and fakes for host tests) may build on any
		// domain's real service; the domain packages themselves may not.
		if d == "" || strings.HasSuffix(p.ImportPath, "test") {
			continue
		}
		for _, imp := range p.Imports {
			other := domainOf(imp)
			if other == "" || other == d || slices.Contains(domainImports[d], other) {
				continue
			}
			t.Errorf("%s imports %s: %s may import only %v (pricing ← payment ← pairing ← extension)",
				p.ImportPath, imp, d, domainImports[d])
		}
	}
}

func TestImports_InternalPackagesDoNotImportTheRoot(t *testing.T) {
	for _, p := range listPackages(t) {
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/internal/")
		if !ok || rel == "loadtool" { // the load tool is a program: nothing imports it
			continue
		}
		if slices.Contains(p.Imports, module) {
			t.Errorf("%s imports the root package (a domain test using it would be an import cycle)", p.ImportPath)
		}
	}
}

// A host team copies any program under examples/ into its own module and it builds: its
// non-test files import only public packages of the SDK.
func TestImports_ExamplesImportOnlyPublicPackages(t *testing.T) {
	seen := 0
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.ImportPath, module+"/examples/") {
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") && strings.Contains(imp+"/", "/internal/") {
				t.Errorf("%s imports %s, which a host's module cannot import", p.ImportPath, imp)
			}
		}
	}
	if seen < 2 {
		t.Fatalf("found %d example programs; the check looks at the wrong packages", seen)
	}
}

// No production binary links the testing package: the root package (what a host imports)
// and the reference server build without it, so the in-memory implementations live in the
// domains and the …test packages keep only contract suites and fakes.
func TestImports_ProductionBinariesDoNotLinkTesting(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	for _, pkg := range []string{module, module + "/examples/server"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "testing" {
				t.Errorf("%s links testing: follow `go list -deps` to the package that imports it", pkg)
			}
		}
	}
}
