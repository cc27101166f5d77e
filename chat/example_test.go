package chat_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
)

// printer is a Notifier that prints the events.
type printer struct{}

func (printer) Notify(_ context.Context, e pairing.Event) {
	switch p := e.Payload.(type) {
	case chat.MessageEvent:
		fmt.Printf("to the mitra: #%d %q\n", p.Seq, p.Text)
	case chat.MessageReadEvent:
		fmt.Printf("to the client: read up to #%d\n", p.Seq)
	}
}

func Example() {
	ctx := context.Background()
	store := chat.NewMemoryStore()
	// A running session, as the pairing side writes it (curhat.NewMemoryClient shares it).
	now := time.Now()
	session := pairing.ChatSession{ID: uuid.New(), ClientID: uuid.New(), MitraID: uuid.New(), Status: pairing.SessionActive,
		Minutes: 30, StartedAt: &now, EndsAt: new(now.Add(30 * time.Minute))}
	store.PutSession(session)
	svc, err := chat.NewService(store, chat.Deps{Notifier: printer{}}, nil)
	if err != nil {
		panic(err)
	}
	send := chat.SendParams{ChatSessionID: session.ID, Sender: pairing.PartyClient, SenderID: session.ClientID,
		ClientMsgID: "01HZX3", Text: "Halo, kak"}
	first, _ := svc.Send(ctx, send)
	again, _ := svc.Send(ctx, send) // a retry after a lost answer
	fmt.Println(first.Seq, again.ID == first.ID)

	_, err = svc.Send(ctx, chat.SendParams{ChatSessionID: session.ID, Sender: pairing.PartyClient, SenderID: uuid.New(),
		ClientMsgID: "x", Text: "hi"})
	fmt.Println(err != nil && errors.Is(err, chat.ErrNotFound))

	mark, _ := svc.MarkRead(ctx, chat.ReadParams{ChatSessionID: session.ID, Reader: pairing.PartyMitra, ReaderID: session.MitraID, Seq: 1})
	fmt.Println(mark.Seq)
	// Output:
	// to the mitra: #1 "Halo, kak"
	// to the mitra: #1 "Halo, kak"
	// 1 true
	// true
	// to the client: read up to #1
	// 1
}
