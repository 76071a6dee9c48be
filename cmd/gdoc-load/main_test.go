package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRunAgainstServer runs a short scenario of each mode against a real
// server: the generator must connect, type, measure and find the editors
// converged.
func TestRunAgainstServer(t *testing.T) {
	srv := testenv.StartServer(t, "gdoc", t.TempDir(), "AUTH_RATE_LIMIT=0", "SECRET_KEY="+testenv.RandomHex(24))
	for _, mode := range []string{"edit", "chat", "idle"} {
		t.Run(mode, func(t *testing.T) {
			var out bytes.Buffer
			o := options{url: srv.URL, mode: mode, docs: 2, clients: 3, users: 2, rate: 20,
				duration: time.Second, warmup: 200 * time.Millisecond, settle: 10 * time.Second}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := run(ctx, o, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			report := out.String()
			if mode == "edit" && (!strings.Contains(report, "converged: every editor holds the server's text") || !strings.Contains(report, "propagation: n=")) {
				t.Errorf("report lacks convergence or latency:\n%s", report)
			}
			if mode == "chat" && !strings.Contains(report, "n=") {
				t.Errorf("chat report lacks latency samples:\n%s", report)
			}
			t.Log(report)
		})
	}
}
