// Package config reads G-Doc's settings from flags, the environment and an
// optional .env file (in that order of precedence), with the seed's names and
// defaults.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by Load when --help was asked for; the usage has
// already been written.
var ErrHelp = flag.ErrHelp

// Error is a configuration mistake: one sentence naming the variable, meant
// for stderr (exit status 2).
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func errorf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// MinSecretKeyBytes is the shortest SECRET_KEY accepted: HS256 needs a key of
// at least 256 bits (RFC 8725 §3.5).
const MinSecretKeyBytes = 32

// seedPlaceholderKey is the seed's example value, refused so a copied example
// never signs real tokens.
const seedPlaceholderKey = "your-secret-key-change-this-in-production"

// Config is every setting of the server.
type Config struct {
	AppName          string
	Debug            bool
	Host             string
	Port             int
	DataDir          string
	DatabaseURL      string // "" means the embedded SQLite database in DataDir
	RedisURL         string // "" means in-process fan-out (single instance)
	SecretKey        string // "" until ResolveSecretKey in embedded mode
	Algorithm        string
	AccessTokenTTL   time.Duration
	CORSOrigins      []string
	AutoSaveInterval time.Duration
	MaxBodyBytes     int64
	AuthRateLimit    int // login/register requests per minute per client IP; 0 disables
	// JoinCreateLimit: joining a fresh id over the WebSocket creates it only
	// while its user created fewer documents than this in the last hour;
	// 0 disables the bound.
	JoinCreateLimit int
	// TrustedProxies are the proxies (nginx) whose X-Real-IP or
	// X-Forwarded-For header names the client, for the auth rate limit.
	TrustedProxies  []netip.Prefix
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout and ReadTimeout bound how long a client may take to
	// send a request's headers, and its whole request (headers and body),
	// so that a client trickling bytes cannot hold a handler. WebSockets are
	// not cut by them (hijacked connections drop the deadline).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// MaxDocumentBytes bounds a document's text (UTF-8 bytes): a REST create
	// or PUT past it is answered 413, an op too_large, and nothing changes.
	MaxDocumentBytes int64
	// MaxOpBytes bounds the text one op inserts (UTF-8 bytes): a bigger op
	// is refused with too_large and changes nothing.
	MaxOpBytes int64
	// RESTWriteRateLimit bounds document creates, updates, deletes, restores and comment writes per
	// minute per user; 0 disables.
	RESTWriteRateLimit int
	// WebSocket admission, per instance (0 disables each):
	WSMaxConnsPerIP        int // open connections per client address
	WSMaxConnsPerUser      int // open connections per user
	WSHandshakesPerIPMin   int // handshakes per minute per client address
	WSHandshakesPerUserMin int // handshakes per minute per user
	LogLevel               slog.Level
	LogFormat              string // "text" or "json"
	// MetricsAddr is the host:port of the operators' listener serving
	// GET /metrics (and pprof when Pprof); "" serves neither.
	MetricsAddr string
	Pprof       bool

	// HistoryCheckpointEvery is the most ops a history read replays after a
	// checkpoint of the text (internal/history).
	HistoryCheckpointEvery int64
	// HistoryKeepRevisions trims each document's op log to about this many
	// revisions (0 keeps everything).
	HistoryKeepRevisions int64
}

// Addr is the address to listen on.
func (c *Config) Addr() string { return joinHostPort(c.Host, c.Port) }

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// Embedded reports whether the embedded SQLite database is used.
func (c *Config) Embedded() bool { return !c.Postgres() }

// Postgres reports whether DATABASE_URL names a PostgreSQL database.
func (c *Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// SQLitePath is the embedded database file: DATA_DIR/gdoc.db, or the path of
// a sqlite:// DATABASE_URL.
func (c *Config) SQLitePath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite://"); ok {
		return p
	}
	return filepath.Join(c.DataDir, "gdoc.db")
}

// setting is one variable: its environment name, flag name, default and how
// to store a value into Config.
type setting struct {
	env, flag, def, usage string
	set                   func(c *Config, v string) error
}

var settings = []setting{
	{"APP_NAME", "app-name", "G-Doc Collaborative Editor", "application name (OpenAPI title, logs)", func(c *Config, v string) error {
		c.AppName = v
		return nil
	}},
	{"DEBUG", "debug", "false", "debug logging (true/false/1/0)", func(c *Config, v string) (err error) {
		c.Debug, err = parseBool("DEBUG", v)
		return err
	}},
	{"HOST", "host", "0.0.0.0", "interface to listen on", func(c *Config, v string) error {
		if v == "" {
			return errorf("HOST must not be empty (use 0.0.0.0 for every interface).")
		}
		c.Host = v
		return nil
	}},
	{"PORT", "port", "8000", "TCP port to listen on (0 picks a free one)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return errorf("PORT must be an integer from 0 to 65535, not %q.", v)
		}
		c.Port = n
		return nil
	}},
	{"DATA_DIR", "data-dir", "./data", "directory of the embedded database and the generated secret key", func(c *Config, v string) error {
		if v == "" {
			return errorf("DATA_DIR must not be empty.")
		}
		c.DataDir = v
		return nil
	}},
	{"DATABASE_URL", "database-url", "", "postgres:// or postgresql:// URL; empty for the embedded SQLite database", func(c *Config, v string) error {
		switch {
		case v == "", strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		case strings.HasPrefix(v, "sqlite://") && len(v) > len("sqlite://"):
		default:
			return errorf("DATABASE_URL must start with postgres://, postgresql:// or sqlite://, or be empty for the embedded database; got %q.", redactURL(v))
		}
		c.DatabaseURL = v
		return nil
	}},
	{"REDIS_URL", "redis-url", "", "redis:// URL for multi-instance fan-out; empty means REDIS_HOST, or in-process when that is empty too", nil},
	{"REDIS_HOST", "redis-host", "", "Redis host (used only when set and REDIS_URL is empty)", nil},
	{"REDIS_PORT", "redis-port", "6379", "Redis port", nil},
	{"REDIS_DB", "redis-db", "0", "Redis database number", nil},
	{"REDIS_PASSWORD", "redis-password", "", "Redis password (with REDIS_HOST)", nil},
	{"SECRET_KEY", "secret-key", "", "JWT signing key, at least 32 bytes; empty in embedded mode generates one in DATA_DIR/secret_key", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if v == seedPlaceholderKey {
			return errorf("SECRET_KEY is the documentation's placeholder; set a random value, e.g. the output of `openssl rand -hex 32`.")
		}
		if len(v) < MinSecretKeyBytes {
			return errorf("SECRET_KEY must be at least %d bytes long (it is %d); generate one with `openssl rand -hex 32`.", MinSecretKeyBytes, len(v))
		}
		c.SecretKey = v
		return nil
	}},
	{"ALGORITHM", "algorithm", "HS256", "JWT algorithm (only HS256 is supported)", func(c *Config, v string) error {
		if v != "HS256" {
			return errorf("ALGORITHM must be HS256 (the only supported JWT algorithm), not %q.", v)
		}
		c.Algorithm = v
		return nil
	}},
	{"ACCESS_TOKEN_EXPIRE_MINUTES", "access-token-expire-minutes", "10080", "lifetime of access tokens in minutes", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 525600 {
			return errorf("ACCESS_TOKEN_EXPIRE_MINUTES must be a whole number of minutes from 1 to 525600, not %q.", v)
		}
		c.AccessTokenTTL = time.Duration(n) * time.Minute
		return nil
	}},
	{"CORS_ORIGINS", "cors-origins", `["http://localhost:3000"]`, `origins allowed to call the API and open WebSockets: a JSON list or comma-separated; "*" allows any`, func(c *Config, v string) (err error) {
		c.CORSOrigins, err = parseOrigins(v)
		return err
	}},
	{"AUTO_SAVE_INTERVAL", "auto-save-interval", "30", "seconds between snapshots of edited documents", func(c *Config, v string) error {
		d, err := parseSeconds("AUTO_SAVE_INTERVAL", v)
		c.AutoSaveInterval = d
		return err
	}},
	{"HISTORY_CHECKPOINT_EVERY", "history-checkpoint-every", "1000", "revisions between checkpoints of a document's text: the most ops a history read replays", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 100000 {
			return errorf("HISTORY_CHECKPOINT_EVERY must be a whole number of revisions from 1 to 100000, not %q.", v)
		}
		c.HistoryCheckpointEvery = n
		return nil
	}},
	{"HISTORY_KEEP_REVISIONS", "history-keep-revisions", "0", "0 keeps every op; otherwise ops older than about this many revisions are dropped once a checkpoint covers them (history then starts later, and a reconnect from before gets the whole text)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf("HISTORY_KEEP_REVISIONS must be a whole number of revisions (0 keeps everything), not %q.", v)
		}
		c.HistoryKeepRevisions = n
		return nil
	}},
	{"MAX_BODY_BYTES", "max-body-bytes", "1048576", "largest accepted REST request body in bytes (larger: 413)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return errorf("MAX_BODY_BYTES must be a whole number of bytes, at least 1024, not %q.", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"AUTH_RATE_LIMIT", "auth-rate-limit", "20", "login and register requests per minute per client IP (0 disables)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf("AUTH_RATE_LIMIT must be a whole number of requests per minute (0 disables), not %q.", v)
		}
		c.AuthRateLimit = n
		return nil
	}},
	{"JOIN_CREATE_LIMIT", "join-create-limit", "60", "joining a fresh id creates it only while its user created fewer documents than this in the last hour (0: no limit)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf("JOIN_CREATE_LIMIT must be a whole number of documents per hour (0: no limit), not %q.", v)
		}
		c.JoinCreateLimit = n
		return nil
	}},
	{"TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies (nginx) whose X-Real-IP / X-Forwarded-For names the client for rate limits and connection caps; empty trusts no header", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			prefix, err := netip.ParsePrefix(part)
			if err != nil {
				addr, aerr := netip.ParseAddr(part)
				if aerr != nil {
					return errorf("TRUSTED_PROXIES must list IP addresses or CIDR ranges (like 127.0.0.1 or 10.0.0.0/8), not %q.", part)
				}
				prefix = netip.PrefixFrom(addr, addr.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
		}
		return nil
	}},
	{"SHUTDOWN_TIMEOUT", "shutdown-timeout", "10", "seconds to wait for requests to finish on shutdown", func(c *Config, v string) error {
		d, err := parseSeconds("SHUTDOWN_TIMEOUT", v)
		c.ShutdownTimeout = d
		return err
	}},
	{"READ_HEADER_TIMEOUT", "read-header-timeout", "10", "seconds a client may take to send a request's headers", func(c *Config, v string) error {
		d, err := parseSeconds("READ_HEADER_TIMEOUT", v)
		c.ReadHeaderTimeout = d
		return err
	}},
	{"READ_TIMEOUT", "read-timeout", "60", "seconds a client may take to send a whole request, body included (WebSockets are not cut by it)", func(c *Config, v string) error {
		d, err := parseSeconds("READ_TIMEOUT", v)
		c.ReadTimeout = d
		return err
	}},
	{"MAX_DOCUMENT_BYTES", "max-document-bytes", "4194304", "largest document text in bytes (UTF-8); a REST create or update past it is refused with 413, an op with too_large", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 || n > 1<<30 {
			return errorf("MAX_DOCUMENT_BYTES must be a whole number of bytes from 1024 to 1073741824, not %q.", v)
		}
		c.MaxDocumentBytes = n
		return nil
	}},
	{"MAX_OP_BYTES", "max-op-bytes", "1048576", "largest text one op may insert, in bytes (UTF-8); a bigger op is refused with too_large", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 || n > 1<<30 {
			return errorf("MAX_OP_BYTES must be a whole number of bytes from 1024 to 1073741824, not %q.", v)
		}
		c.MaxOpBytes = n
		return nil
	}},
	{"REST_WRITE_RATE_LIMIT", "rest-write-rate-limit", "600", "document creates, updates, deletes, restores and comment writes per minute per user (0 disables)", func(c *Config, v string) (err error) {
		c.RESTWriteRateLimit, err = parseCount("REST_WRITE_RATE_LIMIT", v)
		return err
	}},
	{"WS_MAX_CONNECTIONS_PER_IP", "ws-max-connections-per-ip", "1000", "open WebSocket connections per client address on one instance (0 disables)", func(c *Config, v string) (err error) {
		c.WSMaxConnsPerIP, err = parseCount("WS_MAX_CONNECTIONS_PER_IP", v)
		return err
	}},
	{"WS_MAX_CONNECTIONS_PER_USER", "ws-max-connections-per-user", "50", "open WebSocket connections per user on one instance (0 disables)", func(c *Config, v string) (err error) {
		c.WSMaxConnsPerUser, err = parseCount("WS_MAX_CONNECTIONS_PER_USER", v)
		return err
	}},
	{"WS_HANDSHAKES_PER_IP", "ws-handshakes-per-ip", "600", "WebSocket handshakes per minute per client address (0 disables)", func(c *Config, v string) (err error) {
		c.WSHandshakesPerIPMin, err = parseCount("WS_HANDSHAKES_PER_IP", v)
		return err
	}},
	{"WS_HANDSHAKES_PER_USER", "ws-handshakes-per-user", "300", "WebSocket handshakes per minute per user (0 disables)", func(c *Config, v string) (err error) {
		c.WSHandshakesPerUserMin, err = parseCount("WS_HANDSHAKES_PER_USER", v)
		return err
	}},
	{"LOG_LEVEL", "log-level", "", "debug, info, warn or error (default info, or debug when DEBUG is true)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return errorf("LOG_LEVEL must be debug, info, warn or error, not %q.", v)
		}
		return nil
	}},
	{"LOG_FORMAT", "log-format", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return errorf("LOG_FORMAT must be text or json, not %q.", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"METRICS_ADDR", "metrics-addr", "", "host:port of a separate listener serving GET /metrics (Prometheus); empty serves no metrics", func(c *Config, v string) error {
		if v == "" {
			c.MetricsAddr = ""
			return nil
		}
		_, port, err := net.SplitHostPort(v)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			return errorf("METRICS_ADDR must be host:port (like 127.0.0.1:9090), not %q.", v)
		}
		c.MetricsAddr = v
		return nil
	}},
	{"PPROF", "pprof", "false", "serve net/http/pprof under /debug/pprof/ on the METRICS_ADDR listener (true/false)", func(c *Config, v string) (err error) {
		c.Pprof, err = parseBool("PPROF", v)
		return err
	}},
}

// Load reads the configuration: a flag wins over the environment (getenv),
// which wins over the .env file in the working directory (or --env-file),
// which wins over the default; an empty value in the environment or .env
// counts as unset. On --help it writes the usage to stdout and returns
// ErrHelp; any invalid value is an *Error.
func Load(args []string, getenv func(string) string, stdout io.Writer) (*Config, error) {
	fset := flag.NewFlagSet("gdoc", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	flagValues := make(map[string]*string, len(settings))
	for _, s := range settings {
		flagValues[s.env] = fset.String(s.flag, s.def, s.usage)
	}
	envFile := fset.String("env-file", ".env", "file of KEY=VALUE lines read when it exists")
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(stdout)
			return nil, ErrHelp
		}
		return nil, errorf("%s (see gdoc --help).", err)
	}
	if fset.NArg() > 0 {
		return nil, errorf("unexpected argument %q (see gdoc --help).", fset.Arg(0))
	}
	given := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { given[f.Name] = true })

	dotenv := map[string]string{}
	if *envFile != "" {
		data, err := os.ReadFile(*envFile)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !given["env-file"]:
		case err != nil:
			return nil, errorf("cannot read the env file %s: %v.", *envFile, err)
		default:
			if dotenv, err = ParseDotenv(string(data)); err != nil {
				return nil, errorf("%s: %v", *envFile, err)
			}
		}
	}

	values := make(map[string]string, len(settings))
	explicit := make(map[string]bool, len(settings))
	for _, s := range settings {
		v, ok := s.def, false
		if dv := dotenv[s.env]; dv != "" {
			v, ok = dv, true
		}
		if ev := getenv(s.env); ev != "" {
			v, ok = ev, true
		}
		if given[s.flag] {
			v, ok = *flagValues[s.env], true
		}
		values[s.env], explicit[s.env] = v, ok
	}

	c := &Config{}
	for _, s := range settings {
		if s.set == nil {
			continue
		}
		if err := s.set(c, values[s.env]); err != nil {
			return nil, err
		}
	}
	if !explicit["LOG_LEVEL"] && c.Debug {
		c.LogLevel = slog.LevelDebug
	}
	redisURL, err := redisURLFrom(values, explicit)
	if err != nil {
		return nil, err
	}
	c.RedisURL = redisURL
	if c.Pprof && c.MetricsAddr == "" {
		return nil, errorf("PPROF needs METRICS_ADDR: pprof is served only on the metrics listener, never the public one.")
	}
	if c.Postgres() && c.SecretKey == "" {
		return nil, errorf("SECRET_KEY is required with a PostgreSQL DATABASE_URL (every instance must sign tokens with the same key); generate one with `openssl rand -hex 32`.")
	}
	return c, nil
}

// redisURLFrom returns REDIS_URL, or a URL built from REDIS_HOST when that was
// given explicitly (the seed's form), or "" for in-process fan-out.
func redisURLFrom(values map[string]string, explicit map[string]bool) (string, error) {
	if u := values["REDIS_URL"]; u != "" {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "redis" && parsed.Scheme != "rediss") || parsed.Host == "" {
			return "", errorf("REDIS_URL must look like redis://host:6379/0, not %q.", redactURL(u))
		}
		return u, nil
	}
	host := values["REDIS_HOST"]
	if host == "" || !explicit["REDIS_HOST"] {
		return "", nil
	}
	port, err := strconv.Atoi(values["REDIS_PORT"])
	if err != nil || port < 1 || port > 65535 {
		return "", errorf("REDIS_PORT must be an integer from 1 to 65535, not %q.", values["REDIS_PORT"])
	}
	db, err := strconv.Atoi(values["REDIS_DB"])
	if err != nil || db < 0 {
		return "", errorf("REDIS_DB must be a non-negative integer, not %q.", values["REDIS_DB"])
	}
	u := url.URL{Scheme: "redis", Host: joinHostPort(host, port), Path: "/" + strconv.Itoa(db)}
	if pw := values["REDIS_PASSWORD"]; pw != "" {
		u.User = url.UserPassword("", pw)
	}
	return u.String(), nil
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: gdoc [flags]\n\n")
	fmt.Fprintf(w, "G-Doc, a real-time collaborative code editor. Every setting is a flag or an\n")
	fmt.Fprintf(w, "environment variable (flag > environment > .env file > default).\n\n")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (env %s, default %s)\n      %s\n", s.flag, s.env, def, s.usage)
	}
	fmt.Fprintf(w, "  --env-file  (default .env)\n      file of KEY=VALUE lines read when it exists\n")
	fmt.Fprintf(w, "\nCommands:\n  gdoc backup [flags] FILE\n      write a consistent copy of the embedded SQLite database to FILE while the server runs\n")
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off", "":
		return false, nil
	}
	return false, errorf("%s must be true or false, not %q.", name, v)
}

func parseCount(name, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 1_000_000_000 {
		return 0, errorf("%s must be a whole number, 0 or more (0 disables the limit), not %q.", name, v)
	}
	return n, nil
}

func parseSeconds(name, v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 86400 {
		return 0, errorf("%s must be a number of seconds between 0 and 86400, not %q.", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseOrigins accepts the seed's JSON list (["http://localhost:3000"]) or a
// comma-separated list. Each origin is "*" or scheme://host[:port].
func parseOrigins(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	var raw []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			return nil, errorf("CORS_ORIGINS is not a valid JSON list of strings: %v.", err)
		}
	} else if v != "" {
		raw = strings.Split(v, ",")
	}
	origins := make([]string, 0, len(raw))
	for _, o := range raw {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return nil, errorf("CORS_ORIGINS entry %q is not an origin like http://localhost:3000.", o)
			}
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// redactURL hides a password in a URL so config errors can be printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// ParseDotenv parses a .env file: KEY=VALUE lines, blank lines and # comments,
// an optional "export " prefix, values optionally in single or double quotes
// (double quotes understand \n, \" and \\), and " #" starting a comment after
// an unquoted value.
func ParseDotenv(data string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\"'#") {
			return nil, errorf("line %d is not KEY=VALUE.", i+1)
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.HasPrefix(value, `"`):
			end := closingQuote(value)
			if end < 0 {
				return nil, errorf("line %d has an unterminated double quote.", i+1)
			}
			value = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(value[1:end])
		case strings.HasPrefix(value, "'"):
			end := strings.Index(value[1:], "'")
			if end < 0 {
				return nil, errorf("line %d has an unterminated single quote.", i+1)
			}
			value = value[1 : end+1]
		default:
			if j := strings.Index(value, " #"); j >= 0 {
				value = strings.TrimSpace(value[:j])
			}
		}
		out[key] = value
	}
	return out, nil
}

// closingQuote returns the index of the double quote closing s[0], skipping
// escaped ones, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// ResolveSecretKey makes sure c.SecretKey is set: in embedded mode without
// SECRET_KEY it reads DATA_DIR/secret_key, creating it (32 random bytes, hex,
// mode 0600) on first start, so tokens survive restarts.
func (c *Config) ResolveSecretKey() error {
	if c.SecretKey != "" {
		return nil
	}
	if c.Postgres() {
		return errorf("SECRET_KEY is required with a PostgreSQL DATABASE_URL.")
	}
	path := filepath.Join(c.DataDir, "secret_key")
	data, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(data))
		if len(key) < MinSecretKeyBytes {
			return errorf("%s holds a key shorter than %d bytes; delete it to generate a new one (signed-in users will have to log in again).", path, MinSecretKeyBytes)
		}
		c.SecretKey = key
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return errorf("cannot read %s: %v.", path, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return errorf("cannot create DATA_DIR %s: %v.", c.DataDir, err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("generate secret key: %w", err)
	}
	key := hex.EncodeToString(buf)
	// O_EXCL: two processes starting at once on one DATA_DIR must not both
	// write a key; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return c.ResolveSecretKey()
	} else if err != nil {
		return errorf("cannot create %s: %v.", path, err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return errorf("cannot write %s: %v.", path, err)
	}
	if err := f.Close(); err != nil {
		return errorf("cannot write %s: %v.", path, err)
	}
	c.SecretKey = key
	return nil
}
