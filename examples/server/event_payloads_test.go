package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/safety"
)

// eventPayloadSamples are representative payloads of every SDK event kind: each type with
// its optional fields set, and again without them where the document makes them optional.
func eventPayloadSamples() []pairing.EventPayload {
	at := time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC)
	id := func() uuid.UUID { return uuid.New() }
	pay := &pairing.PaymentToPay{
		ID: id(), Status: payment.StatusPending, Amount: 25000, Currency: "IDR",
		CheckoutURL: "https://pay.example/c/1", ExpiresAt: at.Add(15 * time.Minute),
	}
	wait := int64(42)
	requested := extension.Summary{ExtensionID: id(), ChatSessionID: id(), Minutes: 10, Amount: 10000,
		Status: extension.StatusRequested}
	approved := extension.Summary{ExtensionID: id(), ChatSessionID: id(), Minutes: 10, Amount: 10000,
		Status: extension.StatusApproved, DecidedBy: extension.DecidedByMitra, PaymentID: new(uuid.New())}
	rejected := extension.Summary{ExtensionID: id(), ChatSessionID: id(), Minutes: 10, Amount: 10000,
		Status: extension.StatusRejected, DecidedBy: extension.DecidedByMitra, RejectReason: extension.RejectMitraDeclined}
	paid := approved
	paid.Status = extension.StatusPaid
	return []pairing.EventPayload{
		pairing.PairingOfferEvent{PairingID: id(), Type: pairing.TypeBlast, Minutes: 30, ExpiresAt: new(at)},
		pairing.PairingOfferEvent{PairingID: id(), Type: pairing.TypeTargeted, Minutes: 30, Queued: true},
		pairing.OfferDismissedEvent{PairingID: id(), Reason: pairing.DismissMatched},
		pairing.PairingMatchedEvent{PairingID: id(), ChatSessionID: id(), MitraID: id(), Status: pairing.SessionActive},
		pairing.PairingMatchedEvent{PairingID: id(), ChatSessionID: id(), MitraID: id(), Status: pairing.SessionPendingPayment, Payment: pay},
		pairing.PairingFailedEvent{PairingID: id(), Reason: pairing.ReasonTimeout, Amount: 25000, RefundStatus: pairing.RefundRefunded},
		pairing.PairingCancelledEvent{PairingID: id(), Reason: pairing.ReasonClientCancelled},
		pairing.TargetedUnavailableEvent{PairingID: id(), Reason: pairing.ReasonTargetedDeclined},
		pairing.PaymentPaidEvent{PaymentID: id(), PairingID: id()},
		pairing.PaymentPaidEvent{PaymentID: id(), PairingID: id(), ChatSessionID: new(uuid.New())},
		pairing.SessionStartedEvent{ChatSessionID: id(), PairingID: id(), Minutes: 30, EndsAt: new(at)},
		pairing.SessionStartedEvent{ChatSessionID: id(), PairingID: id(), Minutes: 30},
		pairing.SessionEndedEvent{ChatSessionID: id(), PairingID: id(), Status: pairing.SessionEnded, Reason: pairing.EndExpired},
		pairing.QueuePositionEvent{PairingID: id(), QueuePosition: 3, EstimatedWaitSeconds: &wait},
		pairing.QueuePositionEvent{PairingID: id(), QueuePosition: 1},
		pairing.MitraAwayEvent{Reason: pairing.AwayMissedOffers, MissedOffers: 3},
		extension.ExtensionRequestedEvent{Summary: requested, ExpiresAt: at},
		extension.ExtensionApprovedEvent{Summary: approved, Payment: pay},
		extension.ExtensionApprovedEvent{Summary: extension.Summary{ExtensionID: id(), ChatSessionID: id(), Minutes: 10,
			Amount: 10000, Status: extension.StatusApproved, DecidedBy: extension.DecidedByAuto}},
		extension.ExtensionRejectedEvent{Summary: rejected},
		extension.ExtensionExpiredEvent{Summary: requested, Reason: "timeout"},
		extension.SessionExtendedEvent{Summary: paid, EndsAt: at.Add(40 * time.Minute), TotalMinutes: 40},
		availability.PresenceEvent{DeviceID: "phone-1", Online: true},
		chat.MessageEvent{ChatSessionID: id(), ID: id(), Seq: 1, Sender: pairing.PartyClient, Text: "halo", Flags: []chat.Flag{},
			CreatedAt: at},
		chat.MessageEvent{ChatSessionID: id(), ID: id(), Seq: 7, Sender: pairing.PartyMitra, Text: "[hidden]",
			Flags: []chat.Flag{"contact"}, CreatedAt: at},
		chat.MessageReadEvent{ChatSessionID: id(), Reader: pairing.PartyMitra, Seq: 7},
		safety.SafetyResourcesEvent{ChatSessionID: id(), MessageID: id(), Text: safety.DefaultResourcesText},
		safety.WarningEvent{ReportID: id(), Note: "Tolong jaga sopan santun."},
	}
}

// sdkEventPayloadTypes maps each event kind to the types whose EventKind method returns
// it, read from the SDK's source (outside examples and internal), as "pkg.Type".
func sdkEventPayloadTypes(t *testing.T) map[string][]string {
	t.Helper()
	consts := map[string]string{} // Event… constant name → kind
	type method struct{ typ, returns string }
	var methods []method
	err := filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
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
			switch decl := decl.(type) {
			case *ast.GenDecl:
				if decl.Tok != token.CONST {
					continue
				}
				for _, spec := range decl.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if lit, ok := valueAt(vs, i).(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.HasPrefix(name.Name, "Event") {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.FuncDecl:
				if decl.Name.Name != "EventKind" || decl.Recv == nil || len(decl.Body.List) != 1 {
					continue
				}
				recv, ok := decl.Recv.List[0].Type.(*ast.Ident)
				ret, isRet := decl.Body.List[0].(*ast.ReturnStmt)
				require.True(t, ok && isRet && len(ret.Results) == 1, "%s: EventKind must be one return on a value receiver", path)
				var returns string
				switch r := ret.Results[0].(type) {
				case *ast.Ident:
					returns = r.Name
				case *ast.SelectorExpr:
					returns = r.Sel.Name
				}
				methods = append(methods, method{f.Name.Name + "." + recv.Name, returns})
			}
		}
		return nil
	})
	require.NoError(t, err)
	out := map[string][]string{}
	for _, m := range methods {
		kind, ok := consts[m.returns]
		require.True(t, ok, "%s.EventKind returns %s, not an Event… constant", m.typ, m.returns)
		out[kind] = append(out[kind], m.typ)
	}
	return out
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

// Every event kind of the SDK has one Go payload type, named after its schema in
// openapi.json, and what the event streams send for it — the payload encoded as it is —
// matches that schema and uses no field the schema does not name.
func TestEvents_EveryPayloadTypeEncodesToItsSchema(t *testing.T) {
	t.Parallel()
	schemas := mustContract(t).doc.Components.Schemas
	types := sdkEventPayloadTypes(t)
	samples := map[string][]pairing.EventPayload{}
	for _, p := range eventPayloadSamples() {
		samples[p.EventKind()] = append(samples[p.EventKind()], p)
	}
	notifier := hubNotifier{clock: func() time.Time { return time.Date(2025, 3, 1, 10, 31, 0, 0, time.UTC) }}

	kinds := sdkEventKinds(t)
	require.NotEmpty(t, kinds)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			schemaName := eventSchemaName(kind)
			require.Len(t, types[kind], 1, "kind %s needs exactly one Go payload type (EventKind returning its constant)", kind)
			require.True(t, strings.HasSuffix(types[kind][0], "."+schemaName),
				"the payload type of %s is %s; name it %s, after its schema", kind, types[kind][0], schemaName)
			schema := schemas[schemaName]
			require.NotNil(t, schema, "kind %s has no schema %s in openapi.json", kind, schemaName)
			require.NotEmpty(t, samples[kind], "no sample payload of %s here", kind)
			for _, p := range samples[kind] {
				typ := reflect.TypeOf(p)
				require.Equal(t, schemaName, typ.Name())
				kindOf, data := decodeFrame(t, notifier.frame(pairing.Event{Payload: p}))
				require.Equal(t, kind, kindOf)
				require.NoError(t, schema.Value.VisitJSON(decodeJSONValue(data), openapi3.EnableJSONSchema2020()),
					"%s %s", typ, data)
				var body map[string]any
				require.NoError(t, json.Unmarshal(data, &body))
				requireDocumented(t, schema.Value.Properties["data"].Value, body["data"], kind+".data")
			}
		})
	}
	for kind := range samples {
		require.Contains(t, kinds, kind, "a sample of a kind the SDK does not declare")
	}
}

// eventSchemaName is the document's schema of an event kind: session_ended → SessionEndedEvent.
func eventSchemaName(kind string) string {
	name := ""
	for _, part := range strings.Split(kind, "_") {
		name += strings.ToUpper(part[:1]) + part[1:]
	}
	return name + "Event"
}

// decodeFrame returns the event name and the data line of one SSE frame.
func decodeFrame(t *testing.T, frame []byte) (event string, data []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(frame))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = []byte(strings.TrimPrefix(line, "data: "))
		}
	}
	require.NotEmpty(t, event, "frame %q", frame)
	require.NotEmpty(t, data, "frame %q", frame)
	return event, data
}

// requireDocumented fails when v, or an object inside it, has a field that s does not
// name: the document leaves unknown fields open, and a renamed JSON tag would pass it.
func requireDocumented(t *testing.T, s *openapi3.Schema, v any, at string) {
	t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	names := slices.Sorted(maps.Keys(s.Properties))
	for k, fv := range obj {
		prop, ok := s.Properties[k]
		require.True(t, ok, "%s.%s is not in the document (it names %v)", at, k, names)
		requireDocumented(t, prop.Value, fv, at+"."+k)
	}
}
