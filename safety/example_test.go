package safety_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

func ExampleMaskContacts() {
	for _, text := range []string{
		"WA aku ya 0812-3456-7890 atau t.me/dewi_s",
		"jam 08:30, Rp 30.000 untuk 2 jam",
	} {
		masked, found := safety.MaskContacts(text)
		fmt.Println(found, masked)
	}
	// Output:
	// true WA aku ya [hidden] atau [hidden]
	// false jam 08:30, Rp 30.000 untuk 2 jam
}

func ExampleScreener() {
	sc := safety.NewScreener(nil) // the default crisis terms
	out, _ := sc.Screen(context.Background(), chat.Screening{ChatSessionID: uuid.New(), Sender: pairing.PartyClient,
		Text: "Aku INGIN mati... email aku dewi@mail.com", Flags: []chat.Flag{}})
	fmt.Println(out.Text)
	fmt.Println(out.Flags)
	fmt.Println(sc.CrisisTerms(context.Background(), "Pengen bunuh-diri rasanya"))
	// Output:
	// Aku INGIN mati... email aku [hidden]
	// [contact crisis]
	// [bunuh diri]
}
