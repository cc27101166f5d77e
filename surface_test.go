package curhat_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// allowedInternalAliases are the only exported aliases of internal types in the public
// packages: shared primitives that no domain owns (a host implements or passes them, or
// reads their fields). Every other public type is declared where its domain owns it, so
// that `go doc` prints its fields and a value has one name. Keys are alias names; values
// the internal type each stands for.
var allowedInternalAliases = map[string]string{
	"Clock":           "internal/clock.Clock",
	"Timer":           "internal/clock.Timer",
	"FakeClock":       "internal/clock.Fake",
	"DB":              "internal/pgutil.DB",
	"ValidationError": "internal/core.ValidationError",
	"Bus":             "internal/pubsub.Bus",
	"BusHandler":      "internal/pubsub.Handler",
	"BusReset":        "internal/pubsub.Reset",
	"BusConfig":       "internal/pubsub.Config",
	"MemoryBus":       "internal/pubsub.Memory",
	"ValkeyBus":       "internal/pubsub.Valkey",
	"KeyNames":        "internal/valkeyutil.Names",
	"Migration":       "internal/schema.Migration",
}

// internalAlias is one exported `type X = pkg.Y` of a public package whose pkg is internal.
type internalAlias struct {
	pos    string // file:line
	name   string // X
	target string // "internal/….Y", relative to the module
	doc    string
}

// publicPackageDirs returns the directories of the module (relative to its root) holding
// the non-test Go files of a package a host can import, or of an example program: every
// one outside internal/ and testdata/.
func publicPackageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (name == "internal" || name == "testdata" || strings.HasPrefix(name, ".") ||
				strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			if dir := filepath.Dir(path); !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// internalAliases parses the non-test files of dir and returns its exported aliases of a
// type of an internal package of the module.
func internalAliases(t *testing.T, fset *token.FileSet, dir string) []internalAlias {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []internalAlias
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments|parser.SkipObjectResolution)
		require.NoError(t, err)
		imports := map[string]string{} // local name → path relative to the module
		for _, im := range f.Imports {
			path, err := strconv.Unquote(im.Path.Value)
			require.NoError(t, err)
			rel, ok := strings.CutPrefix(path, module+"/")
			if !ok || !strings.HasPrefix(rel, "internal/") && !strings.Contains(rel, "/internal/") {
				continue
			}
			local := filepath.Base(path)
			if im.Name != nil {
				local = im.Name.Name
			}
			imports[local] = rel
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if !ts.Assign.IsValid() || !ts.Name.IsExported() {
					continue
				}
				sel := aliasedSelector(ts.Type)
				if sel == nil {
					continue
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok || imports[x.Name] == "" {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				out = append(out, internalAlias{
					pos:    fset.Position(ts.Pos()).String(),
					name:   ts.Name.Name,
					target: imports[x.Name] + "." + sel.Sel.Name,
					doc:    doc.Text(),
				})
			}
		}
	}
	return out
}

// aliasedSelector returns the pkg.Y an alias stands for, through a pointer or type
// arguments, or nil when it names no imported type.
func aliasedSelector(e ast.Expr) *ast.SelectorExpr {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		return e
	case *ast.StarExpr:
		return aliasedSelector(e.X)
	case *ast.IndexExpr:
		return aliasedSelector(e.X)
	case *ast.IndexListExpr:
		return aliasedSelector(e.X)
	}
	return nil
}

// exportedMembers returns the exported fields and methods of type name declared in the
// non-test files of dir (an internal package), or of the methods of an interface.
func exportedMembers(t *testing.T, fset *token.FileSet, dir, name string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	add := func(fields *ast.FieldList) {
		for _, f := range fields.List {
			for _, n := range f.Names {
				if n.IsExported() && !slices.Contains(out, n.Name) {
					out = append(out, n.Name)
				}
			}
		}
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok || ts.Name.Name != name {
						continue
					}
					switch typ := ts.Type.(type) {
					case *ast.StructType:
						add(typ.Fields)
					case *ast.InterfaceType:
						add(typ.Methods)
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || len(d.Recv.List) != 1 || !d.Name.IsExported() {
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.Name == name && !slices.Contains(out, d.Name.Name) {
					out = append(out, d.Name.Name)
				}
			}
		}
	}
	return out
}

// TestSurface_NoAliasesOfInternalTypes pins that the public packages declare their types:
// an alias of an internal type shows nothing in `go doc` but its target (`type Session =
// core.Payment`), so only the shared primitives of allowedInternalAliases may be one.
func TestSurface_NoAliasesOfInternalTypes(t *testing.T) {
	fset := token.NewFileSet()
	dirs := publicPackageDirs(t)
	require.Contains(t, dirs, "payment", "the walk looks at the wrong directories")
	seen := 0
	for _, dir := range dirs {
		for _, a := range internalAliases(t, fset, dir) {
			seen++
			if want, ok := allowedInternalAliases[a.name]; !ok || want != a.target {
				t.Errorf("%s: %s is an alias of %s: declare the type in the package that owns it", a.pos, a.name, a.target)
			}
		}
	}
	require.NotZero(t, seen, "found no alias at all (curhat.Clock is one): the parse looks at the wrong files")
}

// TestSurface_InternalAliasesListTheirMembers pins that each allowed alias says in its doc
// comment what `go doc` cannot show through it: every exported field and method of the
// internal type it stands for.
func TestSurface_InternalAliasesListTheirMembers(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range publicPackageDirs(t) {
		for _, a := range internalAliases(t, fset, dir) {
			target, ok := allowedInternalAliases[a.name]
			if !ok || target != a.target {
				continue // TestSurface_NoAliasesOfInternalTypes reports it
			}
			pkgDir, typeName, _ := strings.Cut(target, ".")
			members := exportedMembers(t, fset, filepath.FromSlash(pkgDir), typeName)
			require.NotEmpty(t, members, "%s: found no exported member of %s", a.pos, target)
			for _, m := range members {
				if !regexp.MustCompile(`\b` + m + `\b`).MatchString(a.doc) {
					t.Errorf("%s: the doc comment of %s does not name %s of %s", a.pos, a.name, m, target)
				}
			}
		}
	}
}
