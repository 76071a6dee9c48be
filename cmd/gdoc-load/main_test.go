package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// runLoad runs the generator with o for at most a minute and returns its
// report, failing the test when it fails.
func runLoad(t *testing.T, o options) string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return out.String()
}

// TestRunAgainstServer runs a short scenario of each mode against a real
// server: the generator must connect, type, measure and find the editors
// converged.
func TestRunAgainstServer(t *testing.T) {
	srv := testenv.StartServer(t, "gdoc", t.TempDir(), "AUTH_RATE_LIMIT=0", "SECRET_KEY="+testenv.RandomHex(24))
	for _, mode := range []string{"edit", "chat", "idle"} {
		t.Run(mode, func(t *testing.T) {
			report := runLoad(t, options{url: srv.URL, mode: mode, docs: 2, clients: 3, users: 2, rate: 20,
				duration: time.Second, warmup: 200 * time.Millisecond, settle: 10 * time.Second})
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

// metricsOf starts a server with its metrics listener (and pprof) on a free
// port and returns it and the listener's base URL, read from its log.
func metricsOf(t *testing.T) (*testenv.Server, string) {
	t.Helper()
	srv := testenv.StartServer(t, "gdoc", t.TempDir(), "AUTH_RATE_LIMIT=0", "REST_WRITE_RATE_LIMIT=0",
		"METRICS_ADDR=127.0.0.1:0", "PPROF=true", "SECRET_KEY="+testenv.RandomHex(24))
	pattern := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics`)
	var url string
	testenv.Eventually(t, 10*time.Second, "the metrics listener in the log", func() bool {
		if m := pattern.FindStringSubmatch(srv.Tail(200)); m != nil {
			url = m[1]
		}
		return url != ""
	})
	return srv, url
}

func soakOptions(srv *testenv.Server, metricsURL string) options {
	return options{url: srv.URL, metricsURL: metricsURL, mode: "soak", docs: 2, clients: 3, users: 2, rate: 10,
		docSize: 200, duration: 3 * time.Second, warmup: time.Second, settle: 2 * time.Second,
		lifetime: time.Second, seedClients: 1, chatRate: 2, cursorRate: 5, dropFraction: 0.3, deleteFraction: 0.5,
		sampleEvery: time.Second}
}

// TestSoakReturnsToBaseline runs a short soak against a real server: the
// documents open and close, and the report must say the goroutines and the
// heap were compared with the baseline and returned to it.
func TestSoakReturnsToBaseline(t *testing.T) {
	srv, metricsURL := metricsOf(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, soakOptions(srv, metricsURL), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"baseline (after a warm-up cycle", "goroutines: baseline", "): returned",
		"heap in use after GC: baseline", "soak: goroutines and heap compared with the baseline: returned", "errors 0, diverged 0"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if regexp.MustCompile(`cycles 0,`).MatchString(report[strings.Index(report, "load done"):]) {
		t.Errorf("no document cycle completed:\n%s", report)
	}
	t.Log(report)
}

// TestSoakDetectsLeak holds connections open past the end of a soak, as a
// server leaking goroutines would: the soak must fail and say so.
func TestSoakDetectsLeak(t *testing.T) {
	srv, metricsURL := metricsOf(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := soakOptions(srv, metricsURL)
	o.docs, o.duration = 1, time.Second
	var held []*otclient.Conn
	defer func() {
		for _, c := range held {
			c.CloseNow()
		}
	}()
	o.afterBaseline = func() {
		token, err := register(ctx, srv.URL, "leaker_1")
		if err != nil {
			t.Error(err)
			return
		}
		id, err := createDocument(ctx, srv.URL, token, "leak.go", "x")
		if err != nil {
			t.Error(err)
			return
		}
		for range 10 { // each connection is at least one server goroutine
			c, _, err := otclient.Dial(ctx, srv.URL, id, token, -1)
			if err != nil {
				t.Error(err)
				return
			}
			held = append(held, c)
		}
	}
	var out bytes.Buffer
	err := run(ctx, o, &out)
	report := out.String()
	if err == nil || !strings.Contains(err.Error(), "did not return to its baseline") {
		t.Fatalf("soak with 10 connections held open: err = %v, want a failure\n%s", err, report)
	}
	if !strings.Contains(report, "NOT RETURNED") {
		t.Errorf("report does not say what did not return:\n%s", report)
	}
}

// TestCompareToBaseline checks the verdict at and past each tolerance.
func TestCompareToBaseline(t *testing.T) {
	base := serverSample{Goroutines: 20, HeapInuse: 8e6, RSS: 30e6}
	for _, c := range []struct {
		name             string
		goroutines, heap float64
		goroutinesOK     bool
		heapOK           bool
	}{
		{"same", 20, 8e6, true, true},
		{"fewer", 15, 6e6, true, true},
		{"at the limits", 25, 1.25*8e6 + 2<<20, true, true},
		{"one goroutine leaked past the slack", 26, 8e6, false, true},
		{"1000 goroutines leaked", 1020, 8e6, false, true},
		{"heap just past the limit", 20, 1.25*8e6 + 2<<20 + 1, true, false},
		{"heap doubled", 20, 16e6, true, false},
	} {
		v := compareToBaseline(base, serverSample{Goroutines: c.goroutines, HeapInuse: c.heap, RSS: 90e6})
		if v.GoroutinesOK != c.goroutinesOK || v.HeapOK != c.heapOK || v.OK() != (c.goroutinesOK && c.heapOK) {
			t.Errorf("%s: goroutines ok %v heap ok %v, want %v %v", c.name, v.GoroutinesOK, v.HeapOK, c.goroutinesOK, c.heapOK)
		}
		text := strings.Join(v.Lines, "\n")
		if (c.goroutinesOK && c.heapOK) == strings.Contains(text, "NOT RETURNED") {
			t.Errorf("%s: lines disagree with the verdict:\n%s", c.name, text)
		}
	}
}

// TestTypistsAndCursors runs a big-room shape in small: one typist per
// document, the others watch and move their cursors; the op deliveries
// reach the watchers (converged) and cursor deliveries are counted apart.
func TestTypistsAndCursors(t *testing.T) {
	srv := testenv.StartServer(t, "gdoc", t.TempDir(), "AUTH_RATE_LIMIT=0", "SECRET_KEY="+testenv.RandomHex(24))
	report := runLoad(t, options{url: srv.URL, mode: "edit", docs: 1, clients: 6, typists: 1, cursorRate: 20, users: 2, rate: 20,
		duration: time.Second, warmup: 200 * time.Millisecond, settle: 10 * time.Second})
	m := regexp.MustCompile(`ops sent \(measured\): (\d+), deliveries: (\d+)`).FindStringSubmatch(report)
	c := regexp.MustCompile(`cursors sent \(measured\): (\d+), deliveries: (\d+)`).FindStringSubmatch(report)
	if m == nil || c == nil || !strings.Contains(report, "converged: every editor holds the server's text") {
		t.Fatalf("report lacks ops, cursors or convergence:\n%s", report)
	}
	sent, _ := strconv.Atoi(m[1])
	delivered, _ := strconv.Atoi(m[2])
	// One typist at 20 keys/s for 1 s: about 20 keystrokes (not 120: the
	// watchers do not type), delivered to up to 5 others each.
	if sent == 0 || sent > 40 || delivered == 0 || delivered > 5*sent {
		t.Errorf("one typist: %d ops sent, %d delivered:\n%s", sent, delivered, report)
	}
	if cs, _ := strconv.Atoi(c[1]); cs == 0 || c[2] == "0" {
		t.Errorf("no cursor sent or delivered:\n%s", report)
	}
	t.Log(report)
}
