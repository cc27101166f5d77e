package curhat_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
)

// TestConfigStore runs one contract against every ConfigStore implementation.
func TestConfigStore(t *testing.T) {
	t.Parallel()
	impls := map[string]func(t *testing.T) curhat.ConfigStore{
		"postgres": func(t *testing.T) curhat.ConfigStore {
			return curhat.NewPostgresConfigStore(testenv.Postgres(t).Pool)
		},
		"memory": func(*testing.T) curhat.ConfigStore { return curhat.NewMemoryConfigStore() },
	}
	for name, newStore := range impls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runConfigStoreContract(t, newStore)
		})
	}
}

func runConfigStoreContract(t *testing.T, newStore func(t *testing.T) curhat.ConfigStore) {
	ctx := context.Background()

	t.Run("GetUnsetKeyIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Get(ctx, curhat.KeyPairingBlastTimeout)
		require.ErrorIs(t, err, curhat.ErrNotFound)
	})

	t.Run("PutThenGetReturnsTheStoredEntry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		before := time.Now().Add(-time.Minute)
		put, err := s.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`120`), UpdatedBy: "op-1"})
		require.NoError(t, err)
		require.Equal(t, curhat.KeyPairingBlastTimeout, put.Key)
		require.JSONEq(t, `120`, string(put.Value))
		require.Equal(t, "op-1", put.UpdatedBy)
		require.True(t, put.UpdatedAt.After(before), "UpdatedAt set by the store: %v", put.UpdatedAt)

		got, err := s.Get(ctx, curhat.KeyPairingBlastTimeout)
		require.NoError(t, err)
		require.JSONEq(t, `120`, string(got.Value))
		require.Equal(t, "op-1", got.UpdatedBy)
		require.True(t, got.UpdatedAt.Equal(put.UpdatedAt))
	})

	t.Run("PutReplacesAndMovesUpdatedAtForward", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var last time.Time
		for i, v := range []string{`true`, `false`, `true`, `false`} {
			e, err := s.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyExtensionAutoApprove, Value: json.RawMessage(v), UpdatedBy: "op"})
			require.NoError(t, err)
			require.True(t, e.UpdatedAt.After(last), "write %d: %v not after %v", i, e.UpdatedAt, last)
			last = e.UpdatedAt
		}
		got, err := s.Get(ctx, curhat.KeyExtensionAutoApprove)
		require.NoError(t, err)
		require.JSONEq(t, `false`, string(got.Value))
		require.True(t, got.UpdatedAt.Equal(last))
	})

	t.Run("EmptyUpdatedByIsStoredAsSystem", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e, err := s.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyMitraMaxConcurrentSessions, Value: json.RawMessage(`2`)})
		require.NoError(t, err)
		require.Equal(t, "system", e.UpdatedBy)
	})

	t.Run("ListReturnsStoredEntriesOrderedByKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		list, err := s.List(ctx)
		require.NoError(t, err)
		require.Empty(t, list)

		for _, e := range []curhat.ConfigEntry{
			{Key: curhat.KeyPaymentSessionTTL, Value: json.RawMessage(`600`)},
			{Key: curhat.KeyExtensionAutoApprove, Value: json.RawMessage(`false`)},
			{Key: "legacy_key", Value: json.RawMessage(`{"a": [1, 2]}`)},
		} {
			_, err := s.Put(ctx, e)
			require.NoError(t, err)
		}
		list, err = s.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, []curhat.ConfigKey{curhat.KeyExtensionAutoApprove, "legacy_key", curhat.KeyPaymentSessionTTL},
			[]curhat.ConfigKey{list[0].Key, list[1].Key, list[2].Key})
		require.JSONEq(t, `false`, string(list[0].Value))
		require.JSONEq(t, `{"a":[1,2]}`, string(list[1].Value))
		require.JSONEq(t, `600`, string(list[2].Value))
	})

	t.Run("PutRefusesAValueThatIsNotJSON", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPaymentSessionTTL, Value: json.RawMessage(`{nope`)})
		var ve *curhat.ValidationError
		require.True(t, errors.As(err, &ve), "got %v", err)
		require.Equal(t, "value", ve.Field)
		_, err = s.Get(ctx, curhat.KeyPaymentSessionTTL)
		require.ErrorIs(t, err, curhat.ErrNotFound)
	})

	t.Run("ReturnedValuesAreCopies", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPaymentSessionTTL, Value: json.RawMessage(`600`)})
		require.NoError(t, err)
		got, err := s.Get(ctx, curhat.KeyPaymentSessionTTL)
		require.NoError(t, err)
		got.Value[0] = '9'
		again, err := s.Get(ctx, curhat.KeyPaymentSessionTTL)
		require.NoError(t, err)
		require.JSONEq(t, `600`, string(again.Value))
	})
}
