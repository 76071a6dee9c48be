// Package metrics exposes the server's counters in the Prometheus text
// format (GET /metrics) on a listener of its own, by decorating the store,
// the fan-out bus and presence, and by reading gauges from the live parts.
package metrics

import (
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics owns a registry of its own (nothing global), so two servers in
// one test process never share counters.
type Metrics struct {
	reg *prometheus.Registry

	opsCommitted  prometheus.Counter
	chatMessages  prometheus.Counter
	commitSeconds prometheus.Histogram
	commitOps     prometheus.Histogram
	dbErrors      *prometheus.CounterVec
	redisErrors   *prometheus.CounterVec
	httpLimited   prometheus.Counter
}

// New returns the metrics of one server, with its build information.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "gdoc_build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	info.Set(1)
	m.opsCommitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gdoc_ops_committed_total",
		Help: "Edit operations committed to the op log by this instance.",
	})
	m.chatMessages = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gdoc_chat_messages_total",
		Help: "Chat messages stored by this instance.",
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gdoc_commit_duration_seconds",
		Help:    "Time of one group commit of ops (AppendOps), fsync included.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
	})
	m.commitOps = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gdoc_commit_batch_ops",
		Help:    "Ops carried by one group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
	})
	m.dbErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gdoc_database_errors_total",
		Help: "Database calls that failed with a server fault or an unavailable database (not a client's mistake), by call.",
	}, []string{"operation"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gdoc_redis_errors_total",
		Help: "Fan-out (Redis pub/sub) and presence calls that failed, by call.",
	}, []string{"operation"})
	m.httpLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gdoc_http_rate_limited_total",
		Help: "REST requests answered 429 (the login and register rate limit).",
	})
	m.reg.MustRegister(info, m.opsCommitted, m.chatMessages, m.commitSeconds, m.commitOps,
		m.dbErrors, m.redisErrors, m.httpLimited)
	for _, op := range []string{"append_ops", "add_chat_message", "document", "save_snapshot", "start_session", "end_session"} {
		m.dbErrors.WithLabelValues(op) // show 0 from the first scrape
	}
	return m
}

// Live reads the gauges and counters that the running parts keep
// themselves; a nil function is left out.
type Live struct {
	Connections    func() int   // open WebSocket connections
	Documents      func() int   // documents loaded in memory
	QueuedMessages func() int   // messages waiting in connections' send queues
	SlowConsumers  func() int64 // connections closed because their queue was full
	WSRateLimited  func() int64 // WebSocket messages refused with rate_limited
}

// Observe registers the live readings.
func (m *Metrics) Observe(l Live) {
	gauge := func(name, help string, f func() int) {
		if f != nil {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return float64(f()) }))
		}
	}
	counter := func(name, help string, f func() int64) {
		if f != nil {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
				func() float64 { return float64(f()) }))
		}
	}
	gauge("gdoc_websocket_connections", "Open WebSocket connections.", l.Connections)
	gauge("gdoc_documents_loaded", "Documents loaded in memory (with a live state).", l.Documents)
	gauge("gdoc_delivery_queue_messages", "Messages waiting in the connections' send queues.", l.QueuedMessages)
	counter("gdoc_slow_consumers_dropped_total", "Connections closed as slow consumers (their send queue was full).", l.SlowConsumers)
	counter("gdoc_websocket_rate_limited_total", "WebSocket messages refused with rate_limited.", l.WSRateLimited)
}

// Handler serves GET /metrics and, when withPprof, net/http/pprof under
// /debug/pprof/. It is meant for a listener of its own, never the public one.
func (m *Metrics) Handler(withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// HTTP wraps the public handler to count the requests answered 429.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&statusWriter{ResponseWriter: w, limited: m.httpLimited}, r)
	})
}

// statusWriter counts a 429. It passes Hijack (WebSockets) and Flush
// through via Unwrap and http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	limited prometheus.Counter
}

func (w *statusWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		w.limited.Inc()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
