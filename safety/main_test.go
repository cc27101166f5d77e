package safety_test

import (
	"testing"

	"github.com/curhat/curhat/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
