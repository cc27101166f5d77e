package main

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkerOf_FindsTheMarkerInAnEventsText(t *testing.T) {
	frame := messageFrame(uuid.New(), 7, "s2-41")
	data := frame[len("event: message\ndata: ") : len(frame)-2]
	assert.Equal(t, "s2-41", markerOf([]byte(data)))
	assert.Equal(t, "x", markerOf([]byte(`{"kind":"message","data":{"text":"lt:x","seq":1}}`)))
	assert.Empty(t, markerOf([]byte(`{"kind":"message","data":{"text":"halo"}}`)), "not the tool's")
	assert.Empty(t, markerOf([]byte(`{"data":{"text":"lt:cut`)), "cut short")
}

func TestDue_SpreadsTheRateOverTime(t *testing.T) {
	assert.Equal(t, 0, due(500, 0))
	assert.Equal(t, 0, due(500, time.Millisecond), "half a message is not due yet")
	assert.Equal(t, 1, due(500, 2*time.Millisecond))
	assert.Equal(t, 500, due(500, time.Second))
	assert.Equal(t, 2000, due(500, 4*time.Second))
	assert.Equal(t, 0, due(0, time.Second))
}

func TestMsgTracker_TimesEachMessageFromItsSendToItsEvent(t *testing.T) {
	tr := newMsgTracker()
	t0 := time.Now()
	tr.sent("a", t0)
	tr.sent("b", t0)
	tr.sent("c", t0)
	tr.forget("c") // its send failed
	tr.event(0, "message", []byte(`{"data":{"text":"lt:a"}}`), t0.Add(3*time.Millisecond))
	tr.event(0, "presence", []byte(`{"data":{"text":"lt:b"}}`), t0.Add(time.Millisecond))
	tr.event(0, "message", []byte(`{"data":{"text":"lt:zz"}}`), t0.Add(time.Millisecond))
	lat, lost := tr.drain(10 * time.Millisecond)
	assert.Equal(t, []time.Duration{3 * time.Millisecond}, lat)
	assert.Equal(t, 1, lost, "b never arrived")
	assert.Equal(t, 1, tr.late, "an event of nothing awaited")

	tr.sent("d", t0)
	go tr.event(0, "message", []byte(`{"data":{"text":"lt:d"}}`), t0.Add(time.Millisecond))
	lat, lost = tr.drain(5 * time.Second)
	require.Len(t, lat, 1, "drain waits for what is in flight")
	assert.Zero(t, lost)
}
