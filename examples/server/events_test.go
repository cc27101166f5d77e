package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sdkEventKinds returns the event kinds the SDK declares: every string constant named
// Event… in a package of the module outside examples and internal.
func sdkEventKinds(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "..")
	var kinds []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "examples", "internal", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						kinds = append(kinds, v)
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// documentedEventKinds returns the kinds of a stream's schema (ClientEvent, MitraEvent).
func documentedEventKinds(t *testing.T, union string) []string {
	t.Helper()
	s := mustContract(t).doc.Components.Schemas[union]
	require.NotNil(t, s, union)
	require.Equal(t, "kind", s.Value.Discriminator.PropertyName)
	kinds := slices.Sorted(maps.Keys(s.Value.Discriminator.Mapping))
	require.Len(t, s.Value.OneOf, len(kinds), "%s: one schema per kind", union)
	return kinds
}

// serverEventKinds are the kinds the reference server sends itself, besides the SDK's.
var serverEventKinds = []string{eventAccountClosed}

func TestEvents_EveryKindTheServerEmitsIsDocumented(t *testing.T) {
	t.Parallel()
	client, mitra := documentedEventKinds(t, "ClientEvent"), documentedEventKinds(t, "MitraEvent")
	documented := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(client), mitra...))))
	emitted := slices.Sorted(slices.Values(append(sdkEventKinds(t), serverEventKinds...)))
	require.NotEmpty(t, emitted)
	require.Equal(t, emitted, documented, "the kinds of the SDK (Event… constants) and the server's, and of openapi.json")
	schemas := mustContract(t).doc.Components.Schemas
	for _, kind := range documented {
		name := ""
		for _, part := range strings.Split(kind, "_") {
			name += strings.ToUpper(part[:1]) + part[1:]
		}
		s := schemas[name+"Event"]
		require.NotNil(t, s, "%s has no schema %sEvent", kind, name)
		require.Equal(t, []any{kind}, s.Value.Properties["kind"].Value.Enum, name+"Event")
		require.ElementsMatch(t, []string{"kind", "data", "at"}, s.Value.Required, name+"Event")
	}
}

// eventLog collects the kinds a stream delivered; the contract check validates each
// frame against the document on the way.
type eventLog struct {
	mu    sync.Mutex
	kinds map[string]int
}

func collectEvents(s *testStream) *eventLog {
	l := &eventLog{kinds: map[string]int{}}
	go func() {
		for {
			select {
			case data := <-s.events:
				l.record(data)
			case <-s.closed:
				for {
					select {
					case data := <-s.events: // what came before the close (account_closed)
						l.record(data)
					default:
						return
					}
				}
			}
		}
	}()
	return l
}

func (l *eventLog) record(data string) {
	var e struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal([]byte(data), &e)
	l.mu.Lock()
	l.kinds[e.Kind]++
	l.mu.Unlock()
}

func (l *eventLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.kinds))
}

// Every kind of each stream is sent at least once by a walk through the product, and each
// payload matches its schema (the contract check fails the test otherwise).
func TestEvents_EveryDocumentedKindIsSentAndMatchesItsSchema(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ayuID, ayu := ts.onlineMitra("Ayu")
		bimaID, bima := ts.onlineMitra("Bima")
		dewiID, dewi := ts.newClient("Dewi")
		url := ts.http.URL
		clientEvents := collectEvents(openStream(t, ts.http.Client(), url+"/api/client/events", dewi))
		ayuEvents := collectEvents(openStream(t, ts.http.Client(), url+"/api/mitra/events", ayu))
		bimaEvents := collectEvents(openStream(t, ts.http.Client(), url+"/api/mitra/events", bima))

		// A paid blast: offered to both, Ayu wins, Bima's offer is dismissed.
		start := ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		pairingID := obj(start, "pairing")["id"].(string)
		accepted := ts.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", ayu, nil)
		sessionID := obj(accepted, "chat_session")["id"].(string)
		extensions := "/api/client/chat-sessions/" + sessionID + "/extensions"

		// An extension approved automatically, paid.
		ext := ts.must(201, "POST", extensions, dewi, map[string]any{"minutes": 10})
		require.Equal(t, 200, ts.webhook(obj(ext, "payment")["id"], "paid").Status)

		// With the mitra deciding: one rejected, one approved whose payment fails, one
		// nobody decides in time.
		ts.must(200, "PUT", "/api/internal/config/extension_auto_approve", ts.op, map[string]any{"value": false})
		ext = ts.must(201, "POST", extensions, dewi, map[string]any{"minutes": 10})
		ts.must(200, "POST", "/api/mitra/extensions/"+obj(ext, "extension")["id"].(string)+"/reject", ayu, nil)
		ext = ts.must(201, "POST", extensions, dewi, map[string]any{"minutes": 10})
		approved := ts.must(200, "POST", "/api/mitra/extensions/"+obj(ext, "extension")["id"].(string)+"/approve", ayu, nil)
		require.Equal(t, 200, ts.webhook(obj(approved, "payment")["id"], "failed").Status)
		ts.must(201, "POST", extensions, dewi, map[string]any{"minutes": 10})
		ts.clock.Advance(time.Minute)
		_, err := ts.app.exts.SweepExpired(t.Context())
		require.NoError(t, err)
		// A message each way, each party reading what it has.
		for _, s := range []struct{ party, tok string }{{"client", dewi}, {"mitra", ayu}} {
			chat := "/api/" + s.party + "/chat-sessions/" + sessionID
			ts.must(201, "POST", chat+"/messages", s.tok, map[string]any{"text": "halo", "client_msg_id": s.party + "-1"})
			ts.must(200, "POST", chat+"/read", s.tok, map[string]any{"seq": 2})
		}
		// A crisis term: the client is sent the help (safety_resources).
		ts.must(201, "POST", "/api/client/chat-sessions/"+sessionID+"/messages", dewi,
			map[string]any{"text": "aku ingin mati", "client_msg_id": "client-crisis"})
		ts.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", dewi, nil)
		// Each reports the other, and each is warned.
		for _, s := range []struct{ party, tok string }{{"client", dewi}, {"mitra", ayu}} {
			rep := ts.must(201, "POST", "/api/"+s.party+"/reports", s.tok, map[string]any{"chat_session_id": sessionID, "reason": "spam"})
			ts.must(200, "POST", "/api/internal/reports/"+rep["id"].(string)+"/resolve", ts.op,
				map[string]any{"outcome": "warned", "note": "Tolong jaga sopan santun."})
		}

		// "Curhat lagi": declined, then the fallback blast's payment fails.
		returning := ts.must(201, "POST", "/api/client/chat/returning", dewi, map[string]any{"mitra_id": ayuID.String(), "minutes": 30})
		targetedID := obj(returning, "pairing")["id"].(string)
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+targetedID+"/decline", ayu, nil)
		fallback := ts.must(200, "POST", "/api/client/chat/fallback-to-blast", dewi, map[string]any{"pairing_id": targetedID})
		require.Equal(t, 200, ts.webhook(obj(fallback, "payment")["id"], "failed").Status)

		// "Curhat lagi" accepted: the client's pairing_matched carries the payment.
		returning = ts.must(201, "POST", "/api/client/chat/returning", dewi, map[string]any{"mitra_id": ayuID.String(), "minutes": 30})
		accepted = ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(returning, "pairing")["id"].(string)+"/accept", ayu, nil)
		pairing := ts.must(200, "GET", "/api/client/pairings/"+obj(returning, "pairing")["id"].(string), dewi, nil)
		require.Equal(t, 200, ts.webhook(obj(pairing, "payment")["id"], "paid").Status)
		ts.must(200, "POST", "/api/mitra/chat-sessions/"+obj(accepted, "chat_session")["id"].(string)+"/end", ayu, nil)

		// Nobody available: the paid blast fails and is refunded.
		ts.must(200, "POST", "/api/mitra/status/offline", ayu, nil)
		ts.must(200, "POST", "/api/mitra/status/offline", bima, nil)
		start = ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)

		// With the queue on, nobody available: the paid blast waits in the queue; a mitra
		// that lets its one-to-one offer of it lapse is taken offline.
		ts.must(200, "PUT", "/api/internal/config/pairing_queue_enabled", ts.op, map[string]any{"value": true})
		ts.must(200, "PUT", "/api/internal/config/mitra_missed_offers_before_away", ts.op, map[string]any{"value": 1})
		start = ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		ts.must(200, "POST", "/api/mitra/status/online", ayu, nil)
		ts.clock.Advance(20 * time.Second)

		// Bima is deactivated: its stream is told so, then closed.
		ts.must(200, "PATCH", "/api/internal/mitras/"+bimaID.String()+"/status", ts.op, map[string]any{"is_active": false})
		want := map[string][]string{"client": documentedEventKinds(t, "ClientEvent"), "mitra": documentedEventKinds(t, "MitraEvent")}
		// Dewi is suspended: likewise. Its stream closes at once, so what was sent to it
		// before must have arrived first (events still on their way to a closed account's
		// stream are not delivered).
		beforeClose := slices.DeleteFunc(slices.Clone(want["client"]), func(k string) bool { return k == eventAccountClosed })
		require.Eventually(t, func() bool { return slices.Equal(beforeClose, clientEvents.seen()) }, 5*time.Second, 10*time.Millisecond,
			"client saw %v before its suspension; want %v", clientEvents.seen(), beforeClose)
		ts.must(200, "PATCH", "/api/internal/clients/"+dewiID.String()+"/status", ts.op, map[string]any{"is_active": false})

		require.Eventually(t, func() bool {
			mitra := slices.Compact(slices.Sorted(slices.Values(append(ayuEvents.seen(), bimaEvents.seen()...))))
			return slices.Equal(want["client"], clientEvents.seen()) && slices.Equal(want["mitra"], mitra)
		}, 5*time.Second, 10*time.Millisecond, "client saw %v, Ayu %v, Bima %v; want %v",
			clientEvents.seen(), ayuEvents.seen(), bimaEvents.seen(), want)
	})
}

func TestEvents_EveryKindIsInTheReadme(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("README.md") // examples/server/README.md, section "Events"
	require.NoError(t, err)
	for _, kind := range append(sdkEventKinds(t), serverEventKinds...) {
		require.Contains(t, string(raw), "| `"+kind+"` |", "README.md's table of events lacks %s", kind)
	}
}
