// Command gdoc is G-Doc's server: one binary serving the REST API, the
// WebSocket endpoint and the web client, on embedded SQLite by default.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gdoc/gdoc/internal/auth"
	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/comments"
	"github.com/gdoc/gdoc/internal/config"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/history"
	"github.com/gdoc/gdoc/internal/httpapi"
	"github.com/gdoc/gdoc/internal/inmem"
	"github.com/gdoc/gdoc/internal/metrics"
	"github.com/gdoc/gdoc/internal/postgres"
	"github.com/gdoc/gdoc/internal/redis"
	"github.com/gdoc/gdoc/internal/sqlite"
	"github.com/gdoc/gdoc/internal/ws"
	"github.com/gdoc/gdoc/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr: 2 for a configuration mistake, 1 for any
// other failure, 0 for none.
func exitCode(err error, stderr io.Writer) int {
	var cerr *config.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &cerr):
		fmt.Fprintf(stderr, "gdoc: %s\n", cerr.Message)
		return 2
	default:
		fmt.Fprintf(stderr, "gdoc: %v\n", err)
		return 1
	}
}

// run starts the server and serves until ctx is canceled, then shuts down in
// order: stop accepting, flush documents, close sockets (1001), close the
// fan-out and the store. It returns a *config.Error for bad settings.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "backup" {
		return runBackup(ctx, args, getenv, stdout)
	}
	cfg, err := config.Load(args, getenv, stdout)
	if errors.Is(err, config.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	if cfg.Embedded() {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return &config.Error{Message: fmt.Sprintf("cannot create DATA_DIR %s: %v.", cfg.DataDir, err)}
		}
	}
	if err := cfg.ResolveSecretKey(); err != nil {
		return err
	}

	opened, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer opened.Close()
	// Every commit goes through the checkpointer, which keeps history reads
	// bounded (internal/history).
	checkpointer := history.NewCheckpointer(opened, cfg.HistoryCheckpointEvery, cfg.HistoryKeepRevisions, logger)
	var store gdoc.Store = checkpointer
	checkpointCtx, stopCheckpoints := context.WithCancel(context.WithoutCancel(ctx))
	checkpointsDone := make(chan struct{})
	go func() { defer close(checkpointsDone); checkpointer.Run(checkpointCtx) }()
	defer func() {
		stopCheckpoints()
		<-checkpointsDone
	}()

	serverID := uuid.NewString()
	bus, presence, closeFanout, err := openFanout(ctx, cfg, serverID, logger)
	if err != nil {
		return err
	}
	defer closeFanout()

	// Metrics decorate the store and the fan-out only when they are served.
	var mtr *metrics.Metrics
	if cfg.MetricsAddr != "" {
		mtr = metrics.New(version)
		store = mtr.Store(store)
		if cfg.RedisURL != "" {
			bus, presence = mtr.Bus(bus), mtr.Presence(presence)
		}
	}

	authService, err := auth.New([]byte(cfg.SecretKey), cfg.AccessTokenTTL, store)
	if err != nil {
		return err
	}
	collabService := collab.New(collab.Config{
		Store:            store,
		Bus:              bus,
		Presence:         presence,
		ServerID:         serverID,
		AutoSaveInterval: cfg.AutoSaveInterval,
		JoinCreateLimit:  cfg.JoinCreateLimit,
		Logger:           logger,
		SingleInstance:   cfg.RedisURL == "", // in-process fan-out serves one instance
		MaxDocumentBytes: int(cfg.MaxDocumentBytes),
		MaxOpBytes:       int(cfg.MaxOpBytes),
	})
	collabCtx, stopCollab := context.WithCancel(context.WithoutCancel(ctx))
	collabDone := make(chan error, 1)
	go func() { collabDone <- collabService.Run(collabCtx) }()
	defer func() {
		stopCollab()
		<-collabDone
	}()

	// Comments are stored, then announced to every connection (collab).
	commentService := comments.New(store, collabService, collabService.CommentChanged)
	wsHandler := ws.NewHandler(ws.Config{
		Collab:         collabService,
		Comments:       commentService,
		Auth:           authService,
		Logger:         logger,
		OriginPatterns: cfg.CORSOrigins,
	})
	var handler http.Handler = httpapi.NewHandler(httpapi.Config{
		Store:             store,
		Collab:            collabService,
		Auth:              authService,
		Logger:            logger,
		AppName:           cfg.AppName,
		Version:           version,
		CORSOrigins:       cfg.CORSOrigins,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		AuthRatePerMinute: cfg.AuthRateLimit,
		TrustedProxies:    cfg.TrustedProxies,
		CheckpointEvery:   cfg.HistoryCheckpointEvery,
		WebSocket:         wsHandler,
		WebSocketLimits: httpapi.WebSocketLimits{
			MaxConnsPerIP:           cfg.WSMaxConnsPerIP,
			MaxConnsPerUser:         cfg.WSMaxConnsPerUser,
			HandshakesPerIPPerMin:   cfg.WSHandshakesPerIPMin,
			HandshakesPerUserPerMin: cfg.WSHandshakesPerUserMin,
		},
		MaxDocumentBytes:   cfg.MaxDocumentBytes,
		WriteRatePerMinute: cfg.RESTWriteRateLimit,
		ReadTimeout:        cfg.ReadTimeout,
		Comments:           commentService,
		Assets:             web.Assets(),
	})
	if mtr != nil {
		mtr.Observe(metrics.Live{
			Connections:    wsHandler.Connections,
			Documents:      collabService.LoadedDocuments,
			QueuedMessages: wsHandler.QueuedMessages,
			SlowConsumers:  wsHandler.SlowConsumersDropped,
			WSRateLimited:  wsHandler.RateLimited,
		})
		handler = mtr.HTTP(handler)
		stopMetrics, err := serveMetrics(ctx, cfg, mtr, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	listener, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr(), err)
	}
	srv := &http.Server{
		Handler: handler,
		// A client trickling its headers or body is cut off. A WebSocket
		// is not: net/http clears the deadlines when the ws handler
		// hijacks the connection (and no WriteTimeout is set, which would
		// cut long responses).
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(listener) }()
	mode := "embedded SQLite " + cfg.SQLitePath()
	if cfg.Postgres() {
		mode = "PostgreSQL"
	}
	fanout := "in-process"
	if cfg.RedisURL != "" {
		fanout = "Redis"
	}
	logger.Info("listening on "+displayURL(listener.Addr()), "addr", listener.Addr().String(),
		"server_id", serverID, "store", mode, "fanout", fanout, "version", version)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}

	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	// Stop accepting; wait for REST requests (WebSockets are hijacked and
	// are closed below).
	if err := srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	// Finish pending commits and snapshot dirty documents.
	if err := collabService.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("collab shutdown: %w", err))
	}
	// Close every socket with 1001 so clients reconnect elsewhere.
	if err := wsHandler.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("websocket shutdown: %w", err))
	}
	// The deferred calls stop collab, then close presence, bus and store.
	if len(errs) > 0 {
		logger.Error("unclean shutdown", "err", errors.Join(errs...))
	} else {
		logger.Info("stopped")
	}
	return nil
}

// serveMetrics serves GET /metrics (and pprof when PPROF) on METRICS_ADDR,
// a listener of its own, until the returned function is called.
func serveMetrics(ctx context.Context, cfg *config.Config, mtr *metrics.Metrics, logger *slog.Logger) (func(), error) {
	listener, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	srv := &http.Server{
		Handler:           mtr.Handler(cfg.Pprof),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("metrics on "+displayURL(listener.Addr())+"/metrics", "addr", listener.Addr().String(), "pprof", cfg.Pprof)
	return func() {
		srv.Close() // scrapes and profiles are not worth waiting for
		<-done
	}, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// displayURL is a URL for the listening address; an unspecified address
// (0.0.0.0, ::) is shown as 127.0.0.1 so it can be opened as is.
func displayURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// openStore opens PostgreSQL for a postgres:// DATABASE_URL, else the
// embedded SQLite database.
func openStore(ctx context.Context, cfg *config.Config) (gdoc.Store, error) {
	if cfg.Postgres() {
		store, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("cannot open the PostgreSQL database: %w", err)
		}
		return store, nil
	}
	store, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, fmt.Errorf("cannot open the database %s: %w", cfg.SQLitePath(), err)
	}
	return store, nil
}

// openFanout returns Redis pub/sub and presence when REDIS_URL (or
// REDIS_HOST) is set, else the in-process ones (a single instance), and a
// function closing them (presence first: it removes this instance's
// connections).
func openFanout(ctx context.Context, cfg *config.Config, serverID string, logger *slog.Logger) (gdoc.Bus, gdoc.Presence, func(), error) {
	if cfg.RedisURL == "" {
		bus, presence := inmem.NewBus(), inmem.NewPresence()
		return bus, presence, func() { presence.Close(); bus.Close() }, nil
	}
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, nil, &config.Error{Message: fmt.Sprintf("REDIS_URL is not a valid Redis URL: %v.", err)}
	}
	client := goredis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		client.Close()
		return nil, nil, nil, fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)
	}
	bus, presence := redis.NewBus(client, serverID, logger), redis.NewPresence(client, serverID, 0)
	return bus, presence, func() { presence.Close(); bus.Close(); client.Close() }, nil
}
