package curhat_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The root package composes the domains and runs no SQL of its own: what it needs of
// Postgres it asks of a domain's port (pairing.Store.CountOpenSessions) or of an adapter
// under internal/ (internal/configsql for the runtime config), so that a host that wraps a
// store sees every statement, and the in-memory client answers the same question.
func TestRoot_RunsNoSQL(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	read := 0
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		read++
		for _, found := range sqlIn(fset, f) {
			t.Errorf("%s: the root package runs SQL; move it behind the owning domain's Store or into internal/", found)
		}
	}
	require.Greater(t, read, 5, "read the root package's files")
}

// The check finds each way a file could run SQL.
func TestRoot_RunsNoSQLCheckFindsSQL(t *testing.T) {
	t.Parallel()
	const src = `package curhat

import (
	"context"

	"github.com/jackc/pgx/v5"
)

func count(ctx context.Context, db interface{ QueryRow(context.Context, string, ...any) pgx.Row }) (n int) {
	_ = db.QueryRow(ctx, "SELECT count(*) FROM chat_sessions").Scan(&n)
	return n
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "count.go", src, parser.SkipObjectResolution)
	require.NoError(t, err)
	require.Equal(t, []string{
		`count.go:6:2: imports "github.com/jackc/pgx/v5"`,
		`count.go:10:9: calls QueryRow`,
		`count.go:10:23: holds the statement "SELECT count(*) FROM chat_sessions"`,
	}, sqlIn(fset, f))
}

// sqlStatement matches the start of a statement in a string literal (upper case, as this
// code base writes its SQL).
var sqlStatement = regexp.MustCompile(`\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH)\s`)

// sqlIn lists where f imports a pgx package, calls a method that runs a statement on a
// pgx handle, or holds a SQL statement in a string.
func sqlIn(fset *token.FileSet, f *ast.File) []string {
	var found []string
	at := func(n ast.Node, format string, args ...any) {
		found = append(found, fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, args...))
	}
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(path, "github.com/jackc/pgx") {
			at(imp, "imports %q", path)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				switch sel.Sel.Name {
				case "Query", "QueryRow", "Exec", "SendBatch", "CopyFrom":
					at(sel.Sel, "calls %s", sel.Sel.Name)
				}
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				break
			}
			if s, err := strconv.Unquote(n.Value); err == nil && sqlStatement.MatchString(s) {
				at(n, "holds the statement %q", s)
			}
		}
		return true
	})
	return found
}
