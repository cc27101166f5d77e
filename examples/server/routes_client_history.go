package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
)

// What the client app reads to show a client's past chats and to pick up where it was
// after a reload (SPEC §28), and the other party's display name on the chat session and
// offer shapes:
//
//   - GET /api/client/chat-sessions?page=&page_size= lists the client's chat sessions,
//     past and current, newest first, each with its mitra's display name ("Curhat lagi"
//     offers the mitra of a past one).
//   - GET /api/client/pairings?status=open lists the client's open pairings (the ones
//     pairing.WaitingStatuses covers: waiting for a payment, searching, queued, the
//     "Curhat lagi" countdown or its unavailable answer), each as GET
//     /api/client/pairings/{id} answers it: with its payment and chat session.
//
// The SDK's rows carry the parties' ids, not their names, and it has no read of many
// names at once; an answer looks each distinct party up once (partyNames): a page of
// history names the few mitras the client talked to, a mitra's offers their clients.

// Bounds of GET /api/client/chat-sessions: pages of sessionHistoryPageSize (at most
// sessionHistoryMaxPageSize), reaching back sessionHistoryMaxDepth sessions at most.
const (
	sessionHistoryPageSize    = 20
	sessionHistoryMaxPageSize = 50
	sessionHistoryMaxDepth    = 1000
)

func (s *Server) clientHistoryRoutes() {
	s.handle("GET", "/api/client/chat-sessions", roleClient, s.clientSessions)
	s.handle("GET", "/api/client/pairings", roleClient, s.clientOpenPairings)
}

// clientSessions answers one page of the caller's chat sessions, newest first, with
// has_more telling whether an older page exists.
func (s *Server) clientSessions(w http.ResponseWriter, r *http.Request, c caller) error {
	page, size, err := pageQuery(r, sessionHistoryPageSize, sessionHistoryMaxPageSize)
	if err != nil {
		return err
	}
	if page*size > sessionHistoryMaxDepth {
		return curhat.Invalid("page", "reaches back %d sessions at most: page × page_size must be at most %d",
			sessionHistoryMaxDepth, sessionHistoryMaxDepth)
	}
	// The SDK lists from the newest: read up to the page's end and one more (is there an
	// older page?).
	list, err := s.app.pairer.ListChatSessions(r.Context(), pairing.ListSessionsParams{ClientID: &c.ID, Limit: page*size + 1})
	if err != nil {
		return err
	}
	from := min((page-1)*size, len(list))
	to := min(from+size, len(list))
	names := s.namesFor(c)
	items := make([]sessionJSON, 0, to-from)
	for _, cs := range list[from:to] {
		js, err := names.session(r.Context(), cs)
		if err != nil {
			return err
		}
		items = append(items, js)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "page": page, "page_size": size, "has_more": len(list) > to})
	return nil
}

// clientOpenPairings answers the caller's open pairings (status=open, the only status
// asked for so far), oldest first.
func (s *Server) clientOpenPairings(w http.ResponseWriter, r *http.Request, c caller) error {
	switch st := r.URL.Query().Get("status"); st {
	case "open":
	case "":
		return curhat.Invalid("status", "is required: open")
	default:
		return curhat.Invalid("status", "must be open")
	}
	open, _, err := s.app.pairer.ListWaitingPairings(r.Context(), pairing.WaitingQuery{ClientID: &c.ID,
		PageSize: pairing.MaxFailurePageSize})
	if err != nil {
		return err
	}
	names := s.namesFor(c)
	items := make([]map[string]any, 0, len(open))
	for _, wp := range open {
		view, err := s.pairingView(r.Context(), names, wp.Pairing)
		if err != nil {
			return err
		}
		items = append(items, view)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// pairingView is a client's pairing as GET /api/client/pairings/{id} answers it: its
// place in the queue while queued, its payment and its chat session (with the mitra's
// name), null when it has none.
func (s *Server) pairingView(ctx context.Context, names *partyNames, p pairing.Pairing) (map[string]any, error) {
	pj := toPairingJSON(p)
	if p.Status == pairing.StatusQueued {
		st, err := s.app.pairer.QueueStatus(ctx, p.ID)
		switch {
		case err == nil:
			pj.QueuePosition = &st.Position
			if st.EstimatedWait != nil {
				pj.EstimatedWaitSeconds = new(pairing.WaitSeconds(*st.EstimatedWait))
			}
		case !errors.Is(err, curhat.ErrInvalidState): // matched or cancelled since the read: no place
			return nil, err
		}
	}
	out := map[string]any{"pairing": pj, "payment": nil, "chat_session": nil}
	if p.PaymentSessionID != nil {
		pay, err := s.app.payments.Get(ctx, *p.PaymentSessionID)
		if err != nil {
			return nil, err
		}
		out["payment"] = toPaymentJSON(pay)
	}
	if p.ChatSessionID != nil {
		cs, err := s.app.pairer.GetChatSession(ctx, *p.ChatSessionID)
		if err != nil {
			return nil, err
		}
		js, err := names.session(ctx, cs)
		if err != nil {
			return nil, err
		}
		out["chat_session"] = js
	}
	return out, nil
}

// partyNames looks up the display names of the other parties of one answer, each once:
// the mitras' for a client, the clients' for a mitra.
type partyNames struct {
	s     *Server
	of    SubjectKind // whose names: SubjectMitra for a client caller, SubjectClient for a mitra
	names map[uuid.UUID]string
}

// namesFor is the name lookup of one answer to c.
func (s *Server) namesFor(c caller) *partyNames {
	of := SubjectMitra
	if c.Kind == SubjectMitra {
		of = SubjectClient
	}
	return &partyNames{s: s, of: of, names: map[uuid.UUID]string{}}
}

// name is the display name of the party id (a mitra or a client, as the lookup names).
func (n *partyNames) name(ctx context.Context, id uuid.UUID) (string, error) {
	if name, ok := n.names[id]; ok {
		return name, nil
	}
	var name string
	if n.of == SubjectMitra {
		m, err := n.s.app.mirror.GetMitra(ctx, id)
		if err != nil {
			return "", err
		}
		name = m.DisplayName
	} else {
		cl, err := n.s.app.pairer.GetClient(ctx, id)
		if err != nil {
			return "", err
		}
		name = cl.DisplayName
	}
	n.names[id] = name
	return name, nil
}

// session is cs as the caller sees it: with the other party's display name.
func (n *partyNames) session(ctx context.Context, cs pairing.ChatSession) (sessionJSON, error) {
	js := toSessionJSON(cs)
	if n.of == SubjectMitra {
		name, err := n.name(ctx, cs.MitraID)
		js.MitraDisplayName = name
		return js, err
	}
	name, err := n.name(ctx, cs.ClientID)
	js.ClientDisplayName = name
	return js, err
}
