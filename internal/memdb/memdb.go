// Package memdb is the in-memory database under the SDK's in-memory stores: named tables
// and one lock that acts as the transaction. curhat.NewMemoryClient builds every domain's
// memory store over one DB, so that what Postgres enforces across the tables of several
// domains holds in memory too: a foreign key is checked against the referenced table, a
// read that Postgres answers with a join reads the other domain's table, and a write that
// spans two domains (a pairing's transition and the refund it owes) happens in one
// transaction.
//
// A transaction is the DB's lock, held for a whole store call (Begin … End): the call sees
// every table at one instant and no other call sees its writes half done. There is no
// rollback: a store checks everything a call needs before it writes anything, so that a
// call that fails changes nothing.
//
// Each store owns its tables and registers them by their Postgres name (NewTable). The
// rows of a table are the owner's Go type; another domain reads them through columns
// (Row), named as in SQL, which the owner lists when it registers the table. A store built
// alone (over a DB of its own) sees only its own tables: a foreign key into a table no
// store registered is not checked (Tx.Missing answers false), and a cross-domain read
// finds no rows.
package memdb

import (
	"fmt"
	"iter"
	"sync"
)

// DB is an in-memory database: tables by name, and the lock of its transactions.
type DB struct {
	mu     sync.Mutex
	tables map[string]*table
}

// New returns an empty DB.
func New() *DB { return &DB{tables: map[string]*table{}} }

// table is what a DB knows of a table, whatever its types.
type table struct {
	rows any // the Table[K, V]
	// has reports whether key (of the table's key type) is a row.
	has func(key any) bool
	// lookup returns the row of key as columns.
	lookup func(key any) (Row, bool)
	// all returns every row as columns.
	all func() iter.Seq[Row]
}

// Table is the rows of one table by primary key. It is a map, shared by every store that
// registered the table in the same DB: read and write it only inside a transaction of
// that DB (between Begin and End).
type Table[K comparable, V any] map[K]V

// Row is a row as the stores of other domains read it: its columns by their SQL name.
type Row map[string]any

// NewTable registers the table name with rows V keyed by K, or returns the one registered
// already (every store of the table over the DB shares its rows). columns lists a row's
// columns for the stores of other domains (nil: none read it; a later registration with
// columns sets them). It panics when name is registered with other types: two domains
// cannot own one table.
func NewTable[K comparable, V any](db *DB, name string, columns func(V) Row) Table[K, V] {
	db.mu.Lock()
	defer db.mu.Unlock()
	if t, ok := db.tables[name]; ok {
		rows, ok := t.rows.(Table[K, V])
		if !ok {
			panic(fmt.Sprintf("memdb: table %s is registered with rows %T, not %T", name, t.rows, Table[K, V]{}))
		}
		if columns != nil {
			t.lookup, t.all = lookups(name, rows, columns)
		}
		return rows
	}
	rows := Table[K, V]{}
	t := &table{rows: rows, has: func(key any) bool {
		_, ok := rows[keyOf[K](name, key)]
		return ok
	}}
	t.lookup, t.all = lookups(name, rows, columns)
	db.tables[name] = t
	return rows
}

func lookups[K comparable, V any](name string, rows Table[K, V], columns func(V) Row) (func(any) (Row, bool), func() iter.Seq[Row]) {
	if columns == nil {
		columns = func(V) Row { return Row{} }
	}
	lookup := func(key any) (Row, bool) {
		v, ok := rows[keyOf[K](name, key)]
		if !ok {
			return nil, false
		}
		return columns(v), true
	}
	all := func() iter.Seq[Row] {
		return func(yield func(Row) bool) {
			for _, v := range rows {
				if !yield(columns(v)) {
					return
				}
			}
		}
	}
	return lookup, all
}

// keyOf converts key to the key type of table name; a key of another type is a bug.
func keyOf[K comparable](name string, key any) K {
	k, ok := key.(K)
	if !ok {
		var want K
		panic(fmt.Sprintf("memdb: table %s is keyed by %T, not %T", name, want, key))
	}
	return k
}

// Tx is a transaction: the DB's lock, held from Begin to End.
type Tx struct {
	db *DB
}

// Begin starts a transaction: it waits for the transaction in progress, if any, to end.
// Call End when the store call is done (defer tx.End()). A transaction must not begin
// another on the same DB.
func (db *DB) Begin() *Tx {
	db.mu.Lock()
	return &Tx{db: db}
}

// End ends the transaction; its writes are what the tables hold.
func (tx *Tx) End() {
	db := tx.db
	tx.db = nil
	db.mu.Unlock()
}

func (tx *Tx) table(name string) (*table, bool) {
	if tx.db == nil {
		panic("memdb: transaction used after End")
	}
	t, ok := tx.db.tables[name]
	return t, ok
}

// Has reports whether a store registered the table name.
func (tx *Tx) Has(name string) bool {
	_, ok := tx.table(name)
	return ok
}

// Missing is the foreign-key check: it reports whether the table name is registered and
// has no row keyed by key. A table no store registered misses nothing (the check is
// skipped).
func (tx *Tx) Missing(name string, key any) bool {
	t, ok := tx.table(name)
	return ok && !t.has(key)
}

// Lookup returns the row of the table name keyed by key, as columns (false: no such row,
// or no such table).
func (tx *Tx) Lookup(name string, key any) (Row, bool) {
	t, ok := tx.table(name)
	if !ok {
		return nil, false
	}
	return t.lookup(key)
}

// Rows returns every row of the table name as columns, in no order (none when no store
// registered it).
func (tx *Tx) Rows(name string) iter.Seq[Row] {
	t, ok := tx.table(name)
	if !ok {
		return func(func(Row) bool) {}
	}
	return t.all()
}

// Open returns the rows of the table name, registered with rows V keyed by K: for a store
// that writes a table of another domain in its transaction, as its Postgres twin updates
// it. False when no store registered it.
func Open[K comparable, V any](tx *Tx, name string) (Table[K, V], bool) {
	t, ok := tx.table(name)
	if !ok {
		return nil, false
	}
	rows, ok := t.rows.(Table[K, V])
	if !ok {
		panic(fmt.Sprintf("memdb: table %s is registered with rows %T, not %T", name, t.rows, Table[K, V]{}))
	}
	return rows, true
}

// Col returns the column name of r. A column the owner does not list, or of another type,
// is a bug: it panics.
func Col[T any](r Row, name string) T {
	v, ok := r[name]
	if !ok {
		panic(fmt.Sprintf("memdb: no column %s", name))
	}
	t, ok := v.(T)
	if !ok {
		var want T
		panic(fmt.Sprintf("memdb: column %s is %T, not %T", name, v, want))
	}
	return t
}

// Page returns page (1-based; below 1 is the first) of rows, size rows a page (0 or less:
// defaultSize), as a copy: the in-memory twin of LIMIT … OFFSET over rows already sorted.
func Page[T any](rows []T, page, size, defaultSize int) []T {
	if size <= 0 {
		size = defaultSize
	}
	start := min((max(page, 1)-1)*size, len(rows))
	end := min(start+size, len(rows))
	return append([]T(nil), rows[start:end]...)
}
