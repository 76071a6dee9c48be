package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// chdir moves the test into a fresh directory so no stray .env is read.
func chdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func TestLoadDefaults(t *testing.T) {
	chdir(t)
	c, err := Load([]string{"gdoc"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "0.0.0.0" || c.Port != 8000 || c.DatabaseURL != "" || c.RedisURL != "" ||
		c.Algorithm != "HS256" || c.AccessTokenTTL != 10080*time.Minute || c.AutoSaveInterval != 30*time.Second ||
		c.AppName != "G-Doc Collaborative Editor" || c.Debug || c.DataDir != "./data" || c.MaxBodyBytes != 1<<20 ||
		c.MaxDocumentBytes != 4<<20 || c.MaxOpBytes != 1<<20 {
		t.Fatalf("defaults: %+v", c)
	}
	if len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "http://localhost:3000" {
		t.Fatalf("CORSOrigins = %q", c.CORSOrigins)
	}
	if !c.Embedded() || c.SQLitePath() != filepath.Join("data", "gdoc.db") {
		t.Fatalf("embedded %v path %q", c.Embedded(), c.SQLitePath())
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := chdir(t)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("# comment\nPORT=7000\nHOST=\"127.0.0.1\"\nAPP_NAME='Mine' \nDEBUG=True  # seed style\n"), 0o600)
	c, err := Load([]string{"gdoc"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7000 || c.Host != "127.0.0.1" || c.AppName != "Mine" || !c.Debug {
		t.Fatalf(".env not applied: %+v", c)
	}
	c, err = Load([]string{"gdoc"}, env(map[string]string{"PORT": "7100"}), &bytes.Buffer{})
	if err != nil || c.Port != 7100 {
		t.Fatalf("env must win over .env: %v %+v", err, c)
	}
	c, err = Load([]string{"gdoc", "--port", "7200"}, env(map[string]string{"PORT": "7100"}), &bytes.Buffer{})
	if err != nil || c.Port != 7200 {
		t.Fatalf("flag must win over env: %v %+v", err, c)
	}
}

func TestMetricsSettings(t *testing.T) {
	chdir(t)
	c, err := Load([]string{"gdoc"}, env(nil), &bytes.Buffer{})
	if err != nil || c.MetricsAddr != "" || c.Pprof {
		t.Fatalf("metrics must be off by default: %v %+v", err, c)
	}
	c, err = Load([]string{"gdoc", "--metrics-addr", "127.0.0.1:9100", "--pprof", "true"}, env(map[string]string{"METRICS_ADDR": "127.0.0.1:9090"}), &bytes.Buffer{})
	if err != nil || c.MetricsAddr != "127.0.0.1:9100" || !c.Pprof {
		t.Fatalf("flag must win: %v %+v", err, c)
	}
	c, err = Load([]string{"gdoc"}, env(map[string]string{"METRICS_ADDR": ":9090"}), &bytes.Buffer{})
	if err != nil || c.MetricsAddr != ":9090" {
		t.Fatalf("env: %v %+v", err, c)
	}
}

func TestLoadValues(t *testing.T) {
	chdir(t)
	c, err := Load([]string{"gdoc"}, env(map[string]string{
		"CORS_ORIGINS":                "http://a.example, https://b.example:8443/",
		"ACCESS_TOKEN_EXPIRE_MINUTES": "5",
		"REDIS_HOST":                  "cache",
		"REDIS_DB":                    "3",
		"DATABASE_URL":                "postgresql://u:p@db/gdoc",
		"SECRET_KEY":                  strings.Repeat("k", 32),
		"DEBUG":                       "1",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CORSOrigins, " "); got != "http://a.example https://b.example:8443" {
		t.Errorf("CORSOrigins = %q", got)
	}
	if c.AccessTokenTTL != 5*time.Minute || c.RedisURL != "redis://cache:6379/3" || !c.Postgres() || !c.Debug {
		t.Errorf("values: %+v", c)
	}
	c, err = Load([]string{"gdoc"}, env(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_HOST": "other"}), &bytes.Buffer{})
	if err != nil || c.RedisURL != "redis://127.0.0.1:6379/0" {
		t.Errorf("REDIS_URL must win: %v %q", err, c.RedisURL)
	}
}

func TestLoadErrors(t *testing.T) {
	chdir(t)
	cases := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"BadPort":        {env: map[string]string{"PORT": "eighty"}, want: "PORT must be"},
		"PortRange":      {env: map[string]string{"PORT": "70000"}, want: "PORT must be"},
		"Algorithm":      {env: map[string]string{"ALGORITHM": "RS256"}, want: "ALGORITHM must be HS256"},
		"NoneAlgorithm":  {env: map[string]string{"ALGORITHM": "none"}, want: "ALGORITHM must be HS256"},
		"ShortKey":       {env: map[string]string{"SECRET_KEY": "short"}, want: "at least 32 bytes"},
		"SeedKey":        {env: map[string]string{"SECRET_KEY": seedPlaceholderKey}, want: "placeholder"},
		"PostgresNoKey":  {env: map[string]string{"DATABASE_URL": "postgres://db/x"}, want: "SECRET_KEY is required"},
		"BadDatabaseURL": {env: map[string]string{"DATABASE_URL": "mysql://u:secretpw@db/x"}, want: "DATABASE_URL must start"},
		"BadCORS":        {env: map[string]string{"CORS_ORIGINS": `["localhost:3000"`}, want: "CORS_ORIGINS"},
		"BadOrigin":      {env: map[string]string{"CORS_ORIGINS": "localhost:3000"}, want: "CORS_ORIGINS entry"},
		"BadDebug":       {env: map[string]string{"DEBUG": "maybe"}, want: "DEBUG must be"},
		"BadExpire":      {env: map[string]string{"ACCESS_TOKEN_EXPIRE_MINUTES": "-1"}, want: "ACCESS_TOKEN_EXPIRE_MINUTES"},
		"BadAutoSave":    {env: map[string]string{"AUTO_SAVE_INTERVAL": "0"}, want: "AUTO_SAVE_INTERVAL"},
		"BadDocumentMax": {env: map[string]string{"MAX_DOCUMENT_BYTES": "10"}, want: "MAX_DOCUMENT_BYTES must be"},
		"BadOpMax":       {env: map[string]string{"MAX_OP_BYTES": "1MiB"}, want: "MAX_OP_BYTES must be"},
		"BadRedisURL":    {env: map[string]string{"REDIS_URL": "http://x"}, want: "REDIS_URL"},
		"BadProxy":       {env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1, nginx"}, want: "TRUSTED_PROXIES must list"},
		"BadFlag":        {args: []string{"--no-such-flag"}, want: "flag provided but not defined"},
		"StrayArgument":  {args: []string{"serve"}, want: "unexpected argument"},
		"MissingEnvFile": {args: []string{"--env-file", "nope.env"}, want: "cannot read the env file"},
		"BadMetricsAddr": {env: map[string]string{"METRICS_ADDR": "9090"}, want: "METRICS_ADDR must be host:port"},
		"PprofNoMetrics": {env: map[string]string{"PPROF": "true"}, want: "PPROF needs METRICS_ADDR"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(append([]string{"gdoc"}, tc.args...), env(tc.env), &bytes.Buffer{})
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one sentence containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Fatalf("err leaks a password: %q", err)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	chdir(t)
	var out bytes.Buffer
	_, err := Load([]string{"gdoc", "--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), s.env) {
			t.Errorf("help misses %s / --%s", s.env, s.flag)
		}
	}
	if !strings.Contains(out.String(), "default 8000") {
		t.Errorf("help does not show defaults:\n%s", out.String())
	}
}

func TestParseDotenv(t *testing.T) {
	got, err := ParseDotenv("A=1\nexport B = two words # c\nC=\"q \\\"x\\\" #not\"\nD='single # kept'\n\n# x=y\nE=\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": `q "x" #not`, "D": "single # kept", "E": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"NOEQUALS", "A=\"open", "A='open", "=x"} {
		if _, err := ParseDotenv(bad); err == nil {
			t.Errorf("ParseDotenv(%q) accepted", bad)
		}
	}
}

func TestResolveSecretKey(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: filepath.Join(dir, "data")}
	if err := c.ResolveSecretKey(); err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKey) < MinSecretKeyBytes {
		t.Fatalf("key %q too short", c.SecretKey)
	}
	st, err := os.Stat(filepath.Join(dir, "data", "secret_key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret_key file: %v %v", err, st)
	}
	again := &Config{DataDir: c.DataDir}
	if err := again.ResolveSecretKey(); err != nil || again.SecretKey != c.SecretKey {
		t.Fatalf("restart must reuse the key: %v", err)
	}
	given := &Config{DataDir: c.DataDir, SecretKey: strings.Repeat("g", 40)}
	if err := given.ResolveSecretKey(); err != nil || given.SecretKey != strings.Repeat("g", 40) {
		t.Fatalf("SECRET_KEY must win: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	chdir(t)
	c, err := Load([]string{"gdoc"}, env(map[string]string{"TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.3/8 ,::1"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "127.0.0.1/32 10.0.0.0/8 ::1/128" {
		t.Fatalf("TrustedProxies = %v", got)
	}
}
