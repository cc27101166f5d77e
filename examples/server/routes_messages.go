package main

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
)

// The messages of a chat session, between its client and its mitra (SPEC §25). The SDK's
// chat service owns the rules (who, until when, how fast); the handlers map the caller to
// its party and the answers to JSON. The other party hears of each message and each read
// receipt on its event stream (message, message_read), through the SDK's notifier.
func (s *Server) messageRoutes() {
	for _, p := range []struct {
		prefix string
		who    role
	}{{"/api/client", roleClient}, {"/api/mitra", roleMitra}} {
		s.handle("POST", p.prefix+"/chat-sessions/{id}/messages", p.who, s.sendMessage)
		s.handle("GET", p.prefix+"/chat-sessions/{id}/messages", p.who, s.listMessages)
		s.handle("POST", p.prefix+"/chat-sessions/{id}/read", p.who, s.readMessages)
	}
}

// messageJSON is a message as the API answers it.
type messageJSON struct {
	ID          uuid.UUID   `json:"id"`
	Seq         int64       `json:"seq"`
	Sender      string      `json:"sender"`
	ClientMsgID string      `json:"client_msg_id"`
	Text        string      `json:"text"`
	Flags       []chat.Flag `json:"flags"`
	CreatedAt   time.Time   `json:"created_at"`
}

func toMessageJSON(m chat.Message) messageJSON {
	flags := m.Flags
	if flags == nil {
		flags = []chat.Flag{}
	}
	return messageJSON{ID: m.ID, Seq: m.Seq, Sender: string(m.Sender), ClientMsgID: m.ClientMsgID, Text: m.Text, Flags: flags,
		CreatedAt: m.CreatedAt.UTC()}
}

// party is the caller's side of a chat session.
func party(c caller) pairing.Party {
	if c.Kind == SubjectMitra {
		return pairing.PartyMitra
	}
	return pairing.PartyClient
}

// sendMessage answers 201 with the message: the one stored now, or — for a client_msg_id
// the caller sent before in this session — the one stored then (the same answer as the
// first time). A sender past chat_message_rate_per_minute gets 429 RATE_LIMITED with
// Retry-After.
func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Text        string `json:"text"`
		ClientMsgID string `json:"client_msg_id"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	m, err := s.app.client.Chat().Send(r.Context(), chat.SendParams{ChatSessionID: id, Sender: party(c), SenderID: c.ID,
		ClientMsgID: body.ClientMsgID, Text: body.Text})
	var rl *chat.RateLimitedError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toMessageJSON(m))
	return nil
}

// listMessages answers a page of the session's messages, oldest first, after after_seq
// (default 0), at most limit (1..200, default 50), with the parties' read marks.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	after, limit, err := seqPage(r, chat.DefaultHistoryLimit, chat.MaxHistoryLimit)
	if err != nil {
		return err
	}
	h, err := s.app.client.Chat().History(r.Context(), chat.HistoryParams{ChatSessionID: id, Reader: party(c), ReaderID: c.ID,
		AfterSeq: after, Limit: limit})
	if err != nil {
		return err
	}
	items := make([]messageJSON, len(h.Messages))
	for i, m := range h.Messages {
		items[i] = toMessageJSON(m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "last_seq": h.LastSeq,
		"read": map[string]int64{"client": h.ClientReadSeq, "mitra": h.MitraReadSeq}})
	return nil
}

// readMessages records that the caller read every message up to seq (never back, never
// past the last) and answers its read mark.
func (s *Server) readMessages(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Seq *int64 `json:"seq"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Seq == nil {
		return curhat.Invalid("seq", "is required")
	}
	mark, err := s.app.client.Chat().MarkRead(r.Context(), chat.ReadParams{ChatSessionID: id, Reader: party(c), ReaderID: c.ID,
		Seq: *body.Seq})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"chat_session_id": mark.ChatSessionID, "reader": string(mark.Reader), "seq": mark.Seq})
	return nil
}

// seqPage reads ?after_seq= (at least 0, default 0) and ?limit= (1..maxLimit, default
// defLimit): a page of a session's messages.
func seqPage(r *http.Request, defLimit, maxLimit int) (after int64, limit int, err error) {
	q := r.URL.Query()
	limit = defLimit
	if v := q.Get("after_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, curhat.Invalid("after_seq", "must be an integer of at least 0")
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, curhat.Invalid("limit", "must be an integer in 1..%d", maxLimit)
		}
		limit = n
	}
	return after, limit, nil
}
