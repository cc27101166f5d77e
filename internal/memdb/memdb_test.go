package memdb_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/memdb"
)

type client struct {
	ID   uuid.UUID
	Name string
}

func clientColumns(c client) memdb.Row { return memdb.Row{"display_name": c.Name} }

func TestNewTable_SharesTheRowsOfOneNameAndRefusesOtherTypes(t *testing.T) {
	t.Parallel()
	db := memdb.New()
	a := memdb.NewTable[uuid.UUID, client](db, "clients", clientColumns)
	b := memdb.NewTable[uuid.UUID, client](db, "clients", nil)
	id := uuid.New()
	tx := db.Begin()
	a[id] = client{ID: id, Name: "Dewi"}
	require.Equal(t, "Dewi", b[id].Name, "a second store of the table sees the first one's rows")
	row, ok := tx.Lookup("clients", id)
	require.True(t, ok)
	require.Equal(t, "Dewi", memdb.Col[string](row, "display_name"), "a registration without columns keeps the owner's")
	tx.End()

	require.Panics(t, func() { memdb.NewTable[uuid.UUID, string](db, "clients", nil) })
	require.Panics(t, func() { memdb.NewTable[string, client](db, "clients", nil) })
}

func TestTx_ForeignKeysAreCheckedOnlyAgainstRegisteredTables(t *testing.T) {
	t.Parallel()
	db := memdb.New()
	clients := memdb.NewTable[uuid.UUID, client](db, "clients", clientColumns)
	known, unknown := uuid.New(), uuid.New()
	tx := db.Begin()
	defer tx.End()
	clients[known] = client{ID: known, Name: "Dewi"}

	require.False(t, tx.Missing("clients", known))
	require.True(t, tx.Missing("clients", unknown))
	require.False(t, tx.Missing("mitras", unknown), "no store registered mitras: the check is skipped")
	require.True(t, tx.Has("clients"))
	require.False(t, tx.Has("mitras"))
	_, ok := tx.Lookup("mitras", unknown)
	require.False(t, ok)
	require.Panics(t, func() { tx.Missing("clients", known.String()) }, "a key of another type is a bug")
}

func TestTx_RowsAndOpenReadAndWriteAnotherStoresTable(t *testing.T) {
	t.Parallel()
	db := memdb.New()
	clients := memdb.NewTable[uuid.UUID, client](db, "clients", clientColumns)
	tx := db.Begin()
	defer tx.End()
	for _, name := range []string{"Dewi", "Ayu"} {
		id := uuid.New()
		clients[id] = client{ID: id, Name: name}
	}
	var names []string
	for r := range tx.Rows("clients") {
		names = append(names, memdb.Col[string](r, "display_name"))
	}
	require.ElementsMatch(t, []string{"Dewi", "Ayu"}, names)
	for range tx.Rows("mitras") {
		t.Fatal("no rows of a table no store registered")
	}

	rows, ok := memdb.Open[uuid.UUID, client](tx, "clients")
	require.True(t, ok)
	require.Len(t, rows, 2)
	_, ok = memdb.Open[uuid.UUID, client](tx, "mitras")
	require.False(t, ok)
	require.Panics(t, func() { memdb.Open[uuid.UUID, int](tx, "clients") })

	row, _ := tx.Lookup("clients", func() uuid.UUID {
		for id := range clients {
			return id
		}
		return uuid.Nil
	}())
	require.Panics(t, func() { memdb.Col[int](row, "display_name") }, "a column of another type")
	require.Panics(t, func() { memdb.Col[string](row, "nickname") }, "a column the owner does not list")
}

func TestBegin_SerialisesTransactions(t *testing.T) {
	t.Parallel()
	db := memdb.New()
	counts := memdb.NewTable[string, int](db, "counts", nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			tx := db.Begin()
			defer tx.End()
			n := counts["n"]
			counts["n"] = n + 1
		})
	}
	wg.Wait()
	tx := db.Begin()
	defer tx.End()
	require.Equal(t, 50, counts["n"])
}

func TestTx_UseAfterEndPanics(t *testing.T) {
	t.Parallel()
	tx := memdb.New().Begin()
	tx.End()
	require.Panics(t, func() { tx.Has("clients") })
}

func TestPage_CutsLikeLimitOffset(t *testing.T) {
	rows := []int{1, 2, 3, 4, 5}
	require.Equal(t, []int{1, 2}, memdb.Page(rows, 1, 2, 10))
	require.Equal(t, []int{5}, memdb.Page(rows, 3, 2, 10))
	require.Empty(t, memdb.Page(rows, 4, 2, 10))
	require.Equal(t, []int{1, 2, 3}, memdb.Page(rows, 0, 0, 3), "page 0 is the first; size 0 the default")
	page := memdb.Page(rows, 1, 2, 10)
	page[0] = 9
	require.Equal(t, 1, rows[0], "a copy")
}
